"""The Gradio UI: one module per view, each with module-level handlers over a `Pipeline` and a
declarative `tab(pipeline, ...)` that lays the view out and wires its events.

Handlers take the pipeline as their first argument and are bound with `bind`, so they can be
called and tested directly; the views never inspect the pipeline: test doubles implement the
real `Pipeline` interface. Gradio is imported here, never by the rest of `rag`.
"""
from __future__ import annotations

from .app import build_ui, launch_options, serve

__all__ = ["build_ui", "launch_options", "serve"]
