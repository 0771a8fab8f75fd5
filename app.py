"""Serve the Gradio UI (rag/ui/) over one Pipeline built from Settings.

Run: `make run` (or `python app.py`); binds to RAG_HOST:RAG_PORT, 127.0.0.1:7860 by default,
with a login when RAG_AUTH=user:password is set.
"""
from __future__ import annotations

import logging
import sys

from rag.config import Settings, apply_offline_env

apply_offline_env()   # before gradio, chromadb or huggingface are imported

from rag.pipeline import Pipeline  # noqa: E402
from rag.ui import launch_options, serve  # noqa: E402


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        launch_options(settings)            # fail on a bad RAG_AUTH before loading the model
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    serve(Pipeline(settings).warm_up())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
