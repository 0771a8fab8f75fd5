"""Fetch one URL a user gave: the only place the program reaches the network on its own.

Rules, each because a URL is untrusted input:
- only http and https, at most `fetch_max_redirects` hops, each hop checked like the first;
- a timeout on connecting and on every read, and one deadline for the whole fetch;
- at most `fetch_max_mb` read (a declared larger Content-Length is refused before reading);
- only HTML, XML and RSS/Atom content types (a PDF or an image is refused, not parsed);
- with `refuse_private` (requests from the web UI), a host resolving to a loopback, private,
  link-local, multicast or reserved address is refused, and the connection goes to the address
  that was checked, so a second DNS answer cannot swap in an internal one.
Errors are `FetchError`, an InputError (a ValueError) whose message names the URL.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .config import Settings
from .errors import InputError

USER_AGENT = "rag-news-archive/1.0 (+local archive; fetches only URLs its user gave)"
ACCEPTED_TYPES = ("text/html", "application/xhtml+xml", "application/rss+xml",
                  "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")
REDIRECTS = (301, 302, 303, 307, 308)
READ_CHUNK = 65536


class FetchError(InputError):
    """A URL that could not be fetched; the message names it and says why."""


@dataclass(frozen=True)
class Fetched:
    url: str            # the final URL, after redirects
    content_type: str   # e.g. "text/html"
    charset: str | None
    body: bytes


def is_url(text: str) -> bool:
    return str(text).lower().startswith(("http://", "https://"))


def _address_refused(ip: str) -> str | None:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    for label, flag in (("loopback", addr.is_loopback), ("link-local", addr.is_link_local),
                        ("private", addr.is_private), ("multicast", addr.is_multicast),
                        ("reserved", addr.is_reserved), ("unspecified", addr.is_unspecified)):
        if flag:
            return label
    return None if addr.is_global else "non-public"     # e.g. carrier-grade NAT, 100.64/10


class Fetcher:
    """Fetches URLs under the limits of `settings`; `refuse_private` guards server-side fetches."""

    def __init__(self, settings: Settings, *, refuse_private: bool):
        self.timeout = settings.fetch_timeout
        self.max_bytes = settings.fetch_max_mb * 1024 * 1024
        self.max_redirects = settings.fetch_max_redirects
        self.refuse_private = refuse_private

    def fetch(self, url: str) -> Fetched:
        deadline = time.monotonic() + self.timeout
        current = url
        for _hop in range(self.max_redirects + 1):
            status, headers, response, conn = self._open(current, deadline, original=url)
            try:
                if status in REDIRECTS:
                    location = headers.get("location")
                    if not location:
                        raise FetchError(f"{url}: redirect {status} without a Location")
                    current = urljoin(current, location)
                    continue
                if status != 200:
                    raise FetchError(f"{url}: HTTP {status} {response.reason}".rstrip())
                return self._read(url, current, headers, response, deadline)
            finally:
                conn.close()
        raise FetchError(f"{url}: more than {self.max_redirects} redirects")

    def _open(self, url: str, deadline: float, original: str):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(f"{original}: only http and https URLs can be fetched"
                             + (f" (redirected to {url})" if url != original else ""))
        host = parts.hostname
        if not host:
            raise FetchError(f"{original}: no host in {url}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FetchError(f"{original}: bad port in {url}") from None
        ips = self._vetted_addresses(host, port, original)
        remaining = max(0.1, deadline - time.monotonic())
        conn_class = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        conn = conn_class(host, port, ips, timeout=min(self.timeout, remaining))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", path, headers={"User-Agent": USER_AGENT,
                                               "Accept": ", ".join(ACCEPTED_TYPES),
                                               "Accept-Encoding": "identity"})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            conn.close()
            raise FetchError(f"{original}: cannot connect to {host} ({_reason(exc)})") from None
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response, conn

    def _vetted_addresses(self, host: str, port: int, original: str) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"{original}: cannot resolve {host} ({_reason(exc)})") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if self.refuse_private:
            for ip in addresses:
                refused = _address_refused(ip)
                if refused:
                    raise FetchError(f"{original}: refused, {host} is a {refused} address "
                                     f"({ip}); set RAG_ALLOW_PRIVATE_URLS=true to allow it")
        return addresses

    def _read(self, original: str, final: str, headers: dict, response, deadline) -> Fetched:
        mime, _, params = headers.get("content-type", "").partition(";")
        mime = mime.strip().lower()
        if mime not in ACCEPTED_TYPES:
            raise FetchError(f"{original}: content type {mime or '(none)'!r} is not a web page "
                             f"or feed (accepted: {', '.join(ACCEPTED_TYPES)})")
        limit_mb = self.max_bytes // 2**20
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"{original}: {int(declared):,} bytes is over the {limit_mb} MB "
                             "limit (RAG_FETCH_MAX_MB)")
        body = bytearray()
        try:
            while chunk := response.read(READ_CHUNK):
                body += chunk
                if len(body) > self.max_bytes:
                    raise FetchError(f"{original}: larger than the {limit_mb} MB limit "
                                     "(RAG_FETCH_MAX_MB)")
                if time.monotonic() > deadline:
                    raise FetchError(f"{original}: took longer than {self.timeout:g} s "
                                     "(RAG_FETCH_TIMEOUT)")
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"{original}: reading failed ({_reason(exc)})") from None
        charset = next((p.split("=", 1)[1].strip(' "\'') for p in params.split(";")
                        if p.strip().lower().startswith("charset=")), None)
        return Fetched(final, mime, charset, bytes(body))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _connect_any(ips: list[str], port: int, timeout: float) -> socket.socket:
    """A connection to the first of the checked addresses that answers."""
    error: OSError | None = None
    for ip in ips:
        try:
            return socket.create_connection((ip, port), timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address")


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects only to the checked addresses `ips`, while the Host header names the host."""

    def __init__(self, host, port, ips, **kwargs):
        super().__init__(host, port, **kwargs)
        self._ips = ips

    def connect(self):
        self.sock = _connect_any(self._ips, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As `_PinnedHTTP`, with TLS verified against the host name (SNI and certificate)."""

    def __init__(self, host, port, ips, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._ips = ips

    def connect(self):
        sock = _connect_any(self._ips, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
