"""Deterministic stand-ins for the model, for fast unit tests (real-model tests are marked slow)."""
from __future__ import annotations

import hashlib
import re
from types import SimpleNamespace

import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Bag of words, each word a vector seeded from its SHA-256: texts sharing words are close."""

    name = "fake-bow-64"
    backend = "fake"
    dim = 64

    def __init__(self):
        self.calls = 0

    def load(self):
        return self

    def _word_vector(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def _embed(self, text: str) -> list[float]:
        words = [w.lower() for w in re.findall(r"\w+", text)]
        v = sum((self._word_vector(w) for w in words), np.zeros(self.dim))
        v = v + 1e-3 * self._word_vector("\0" + text)   # distinct texts never collide exactly
        return (v / np.linalg.norm(v)).tolist()

    def count_tokens(self, texts):
        return [len(_TOKEN.findall(t)) for t in texts]

    def token_offsets(self, text):
        return [m.span() for m in _TOKEN.finditer(text)]

    def embed_texts(self, texts):
        self.calls += 1
        return [self._embed(t) for t in texts]

    def embed_query(self, text):
        return self._embed(text)


class FakeLLM:
    """A chat model with llama-index's `stream_chat` shape, without llama-index: `reply(prompt)`
    gives each reply from the prompt as [(role, content), ...] (text, or an exception to raise);
    every prompt is recorded in `prompts`."""

    def __init__(self, reply):
        self.reply = reply if callable(reply) else (lambda _prompt: reply)
        self.prompts: list[list[tuple[str, str]]] = []

    def stream_chat(self, messages, **kwargs):
        prompt = [(m.role.value, m.content) for m in messages]
        self.prompts.append(prompt)
        item = self.reply(prompt)
        if isinstance(item, BaseException):
            raise item
        return (SimpleNamespace(delta=item[i:i + 5]) for i in range(0, len(item), 5))
