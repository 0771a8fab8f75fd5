"""Deterministic stand-ins for the model, for fast unit tests (real-model tests are marked slow)."""
from __future__ import annotations

import hashlib
import re

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
