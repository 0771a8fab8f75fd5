"""The errors the library raises on purpose, and what each means to a caller.

Every other exception is a bug and is left to propagate with its traceback. The CLI maps these to
exit codes (`exit_code`), the UI to messages; messages name the file, field or setting (RAG_*)
at fault, never a CLI flag, since the library does not know who called it.
"""
from __future__ import annotations


class RagError(Exception):
    """Base of the errors below: a condition the user can act on, reported without a traceback."""

    exit_code = 2


class InputError(RagError, ValueError):
    """Bad input: a question, a filter, a history, a setting. Nothing was changed.

    A ValueError too, so callers written against ValueError keep working."""


class NotFound(InputError, LookupError):
    """An article id (or a topic) that matches nothing stored: input naming what is not there."""

    exit_code = 1


class StoreVersionError(RagError):
    """The store was built by another schema version, embedding model or backend: reindex it."""


class ModelIntegrityError(RagError):
    """The embedding model's files are missing, damaged or cannot be exported faithfully."""


class LLMUnavailable(RagError):
    """The generative backend is down, unreachable, failing or too slow (answers fall back to
    extractive ones)."""


class UnusableReply(LLMUnavailable):
    """The model replied with nothing that can be checked against the passages."""
