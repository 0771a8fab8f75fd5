"""Nothing reaches the network: ingest, ask, summarize and the UI's start-up open no socket and
resolve no name outside loopback, checked in this process and in real subprocesses (the CLI and
`python app.py`) through a `sitecustomize` hook that logs and blocks every other attempt.
"""
import ipaddress
import json
import signal
import socket
import subprocess
import time

import pytest

from conftest import SEED
from processes import PYTHON, ROOT, free_port, json_out, rag_command, rag_env

SEED_ID = "000_066ea528e0fa7fc5"
LAVROV = "What did Lavrov say about THAAD?"


def is_loopback(host) -> bool:
    if host in (None, "", "localhost", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def lookups(monkeypatch):
    """Name lookups outside loopback (the root conftest already fails non-loopback connects)."""
    real = socket.getaddrinfo
    seen = []

    def guarded(host, *args, **kwargs):
        if not is_loopback(host):
            seen.append(host)
            raise socket.gaierror(f"test looked up {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return seen


@pytest.mark.integration
def test_ingest_ask_summarize_and_ui_start_up_stay_on_loopback(fake_pipeline, lookups,
                                                                block_network):
    import app
    from gradio_client import Client
    assert fake_pipeline.ingest([SEED]).added == 1
    assert "pretext" in fake_pipeline.ask(LAVROV).text
    assert fake_pipeline.summarize([SEED_ID]).citations
    port = free_port()
    demo = app.serve(fake_pipeline, server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert "pretext" in client.predict(LAVROV, "", "", "", "", api_name="/ask")["answer"]
        assert "Lavrov" in client.predict(SEED_ID, api_name="/article")
    finally:
        demo.close()
    assert lookups == [] and block_network == []


# Loaded by every Python process started with this folder on PYTHONPATH (and by their
# children, which inherit the environment): logs, then refuses, any socket use off loopback.
SITECUSTOMIZE = r'''
import ipaddress, json, os, socket, sys, traceback

_LOG = os.environ["NET_AUDIT_LOG"]
with open(os.path.join(os.environ["NET_AUDIT_ARMED"], str(os.getpid())), "w") as fh:
    fh.write(" ".join(sys.argv))

def _loopback(host):
    if host in (None, "", "localhost", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(host.decode() if isinstance(host, bytes) else host).is_loopback
    except ValueError:
        return False

def _refuse(call, target):
    with open(_LOG, "a") as fh:
        fh.write(json.dumps({"pid": os.getpid(), "argv": sys.argv[:3], "call": call,
                             "target": repr(target),
                             "stack": traceback.format_stack(limit=8)[:-2]}) + "\n")
    raise OSError(101, f"network access blocked by the test: {call} {target!r}")

_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo

def _guard(name):
    real = getattr(socket.socket, name)
    def guarded(self, *args):
        address = args[-1] if args else None
        if self.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) \
                and not _loopback(address[0]):
            _refuse(name, address)
        return real(self, *args)
    setattr(socket.socket, name, guarded)

for _name in ("connect", "connect_ex", "sendto"):
    _guard(_name)
'''


@pytest.fixture
def audited(tmp_path):
    """Environment additions that arm the hook, and a reader of what it logged."""
    hook = tmp_path / "net-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    armed = tmp_path / "net-armed"
    armed.mkdir()
    log = tmp_path / "net-audit.jsonl"
    log.touch()
    env = {"PYTHONPATH": str(hook), "NET_AUDIT_LOG": str(log), "NET_AUDIT_ARMED": str(armed)}

    def attempts():
        return [json.loads(line) for line in log.read_text().splitlines()]
    return env, attempts, armed


@pytest.mark.integration
def test_the_subprocess_hook_catches_network_use(audited, tmp_path):
    env, attempts, armed = audited
    probe = ("import socket\n"
             "for call in (lambda: socket.getaddrinfo('example.org', 443),\n"
             "             lambda: socket.socket().connect(('192.0.2.1', 80)),\n"
             "             lambda: socket.socket(type=socket.SOCK_DGRAM)\n"
             "                     .sendto(b'x', ('192.0.2.1', 53))):\n"
             "    try:\n        call()\n    except OSError:\n        pass\n")
    subprocess.run([PYTHON, "-c", probe], env=rag_env(tmp_path / "home", **env), check=True,
                   timeout=60)
    assert [a["call"] for a in attempts()] == ["getaddrinfo", "connect", "sendto"]
    assert len(list(armed.iterdir())) == 1


@pytest.mark.slow
def test_cli_and_app_processes_open_no_socket_off_loopback(audited, tmp_path):
    from gradio_client import Client
    env, attempts, armed = audited
    home = tmp_path / "home"
    ingest = subprocess.run(rag_command("ingest", str(SEED), "--json"), cwd=ROOT,
                            env=rag_env(home, **env), capture_output=True, text=True, timeout=600)
    assert ingest.returncode == 0 and json_out(ingest)["added"] == 1, ingest.stderr[-3000:]
    ask = subprocess.run(rag_command("ask", LAVROV, "--json"), cwd=ROOT, env=rag_env(home, **env),
                         capture_output=True, text=True, timeout=600)
    assert ask.returncode == 0 and "pretext" in json_out(ask)["answer"], ask.stderr[-3000:]
    port = free_port()
    app_log = tmp_path / "app.log"
    with open(app_log, "w") as log:                  # a file: a full pipe would stall the app
        app = subprocess.Popen([PYTHON, "app.py"], cwd=ROOT, stdout=log, stderr=log,
                               env=rag_env(home, RAG_PORT=str(port), **env))
    try:
        wait_for_port(port, app, app_log)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, httpx_kwargs={"timeout": 300})
        assert "pretext" in client.predict(LAVROV, "", "", "", "", api_name="/ask")["answer"]
        assert "Lavrov" in client.predict(SEED_ID, api_name="/article")   # with its summary
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    assert attempts() == [], json.dumps(attempts(), indent=1)[:5000]
    assert len(list(armed.iterdir())) >= 3, "the hook was not loaded in every process"


def wait_for_port(port: int, proc: subprocess.Popen, log, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"app exited: {log.read_text()[-3000:]}"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"app did not listen on port {port} within {timeout} s")
