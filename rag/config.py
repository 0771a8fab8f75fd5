"""Settings: one typed, frozen dataclass built at the edge (CLI, app, eval, tests) and passed down.

No other module reads environment variables. `Settings.from_env()` is the only place that does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import InputError

# Offline switches. They are set by `apply_offline_env()`, which each entry point (the CLI's and
# the app's main, the test session) calls once at process start, before huggingface, transformers,
# gradio or chromadb are imported, so no library ever tries the network.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_env() -> None:
    """Force the offline/telemetry switches for this process (overrides any caller value)."""
    os.environ.update(OFFLINE_ENV)


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".rag")                # RAG_HOME: Chroma store, manifest, caches
    corpus: Path = Path("corpus")            # RAG_CORPUS: default ingest folder
    data: Path = Path("../shared/data")      # RAG_DATA: research datasets (read-only, never copied)
    chroma_url: str | None = None            # RAG_CHROMA_URL: use a Chroma server instead of files
    model_dir: Path | None = None            # RAG_MODEL_DIR: local sentence-transformers folder
    model_sha256: str | None = None          # RAG_MODEL_SHA256: expected model.safetensors hash
    embed_batch: int = 32                    # RAG_EMBED_BATCH
    embed_backend: str = "torch"             # RAG_EMBED_BACKEND: torch | onnx-int8
    chunk_tokens: int = 200                  # RAG_CHUNK_TOKENS: passage size in model word pieces
    chunk_overlap: int = 40                  # RAG_CHUNK_OVERLAP
    top_k: int = 5                           # RAG_TOP_K: passages given to the answerer
    candidate_k: int = 30                    # RAG_CANDIDATE_K: per-retriever depth before fusion
    dense_weight: float = 0.2                # RAG_DENSE_WEIGHT: dense share in hybrid fusion
    rerank_k: int = 5                        # RAG_RERANK_K: fused passages given the sentence check
    sentence_weight: float = 0.3             # RAG_SENTENCE_WEIGHT: best sentence's share there
    answer_sentences: int = 3                # RAG_ANSWER_SENTENCES: max answer units
    refuse_below: float = 0.45               # RAG_REFUSE_BELOW: support score under which we refuse
    llm: str | None = None                   # RAG_LLM: None (extractive) | "openai" | "ollama"
    llm_url: str | None = None               # RAG_LLM_URL: e.g. http://127.0.0.1:8080/v1
    llm_model: str | None = None             # RAG_LLM_MODEL
    llm_api_key: str | None = None           # RAG_LLM_API_KEY
    llm_timeout: float = 60.0                # RAG_LLM_TIMEOUT: seconds before falling back
    host: str = "127.0.0.1"                  # RAG_HOST
    port: int = 7860                         # RAG_PORT
    auth: str | None = None                  # RAG_AUTH: user:password[,user:password] or a users file
    max_upload_mb: int = 20                  # RAG_MAX_UPLOAD_MB
    fetch_timeout: float = 20.0              # RAG_FETCH_TIMEOUT: seconds per URL fetch
    fetch_max_mb: int = 10                   # RAG_FETCH_MAX_MB: largest page or feed read
    fetch_max_redirects: int = 5             # RAG_FETCH_MAX_REDIRECTS
    allow_private_urls: bool = False         # RAG_ALLOW_PRIVATE_URLS: UI may fetch loopback/LAN

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            raw = env.get("RAG_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _coerce(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def _coerce(name: str, type_name: str, raw: str):
    t = str(type_name)
    if t == "bool":
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise InputError(f"RAG_{name.upper()}={raw!r}: expected true or false")
    try:
        if "Path" in t:
            return Path(raw)
        if t.startswith("int"):
            return int(raw)
        if t.startswith("float"):
            return float(raw)
    except ValueError as exc:
        raise InputError(f"RAG_{name.upper()}={raw!r}: {exc}") from None
    return raw
