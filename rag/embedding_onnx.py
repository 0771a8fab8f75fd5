"""The int8 ONNX backend (RAG_EMBED_BACKEND=onnx-int8) of the same sentence-transformers model.

The model is exported here, on this machine, with `torch.onnx.export` (mean pooling and L2
normalisation inside the graph), its attention and layer norms fused by onnxruntime's transformer
optimizer, checked against torch, then quantized dynamically (int8 weights, per output channel)
with onnxruntime. The result is cached under RAG_HOME/onnx/, keyed by the
weights' sha256, the export recipe and the onnxruntime version, with the sha256 of the int8 file
recorded next to it and checked on every load. Only the export needs torch: a cached model
loads with onnxruntime and tokenizers alone, which also shortens a cold start.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from .config import Settings
from .embedding import (LocalModelEmbedder, expected_weights_sha256, sha256_of,
                        verify_model_dir)
from .errors import ModelIntegrityError

BACKEND = "onnx-int8"
ONNX_OPSET = 17
EXPORT_RECIPE = 2              # bump when the export or quantization below changes
EXPORT_MIN_COSINE = 0.9999     # the fp32 graph must reproduce torch before it is quantized
# Kept in float: the feed-forward output projections of the first layers, where int8 costs the
# most agreement with torch on news passages for a sixth of the multiply-adds
# (eval/reports/int8.md).
FLOAT_LAYERS = re.compile(r"/layer\.([012])/output/dense/MatMul$")
INT8_FILE = "model.int8.onnx"
RECORD_FILE = "export.json"
_PROBES = ("Short.", "A longer probe sentence about harbour cranes, ministers and exchange rates "
           "so that the batch holds sequences of different lengths and real padding.")


def model_inputs(tokenizer_names: list[str]) -> list[str]:
    return [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer_names]


def _pooling_check(model_dir: Path) -> None:
    """Only mean pooling is exported; refuse a model that pools otherwise rather than differ."""
    config = model_dir / "1_Pooling" / "config.json"
    if config.is_file():
        modes = json.loads(config.read_text(encoding="utf-8"))
        if not modes.get("pooling_mode_mean_tokens", False):
            raise ModelIntegrityError(f"{config}: the onnx-int8 backend supports mean pooling "
                                      "only; use RAG_EMBED_BACKEND=torch for this model")


def export_int8(model_dir: Path, dest: Path) -> Path:
    """Export, check and quantize `model_dir` into the folder `dest` (replaced atomically)."""
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel, AutoTokenizer

    _pooling_check(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    # Eager attention traces to the MatMul/Softmax pattern the optimizer fuses into one
    # Attention op (the SDPA trace is not recognised), much faster after quantization.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    inputs = model_inputs(list(tokenizer.model_input_names) + ["attention_mask"])

    class MeanPooled(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, *tensors):
            named = dict(zip(inputs, tensors))
            hidden = self.encoder(**named).last_hidden_state
            mask = named["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    pooled = MeanPooled(model).eval()
    probe = tokenizer(list(_PROBES), padding=True, return_tensors="pt")
    args = tuple(probe[n] for n in inputs)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=dest.parent))
    try:
        traced, fp32 = work / "model.traced.onnx", work / "model.fp32.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about python-side shape checks
            torch.onnx.export(
                pooled, args, str(traced), input_names=inputs, output_names=["sentence_embedding"],
                dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in inputs},
                              "sentence_embedding": {0: "batch"}},
                opset_version=ONNX_OPSET, dynamo=False)
            expected = pooled(*args).numpy()
        fused = optimize_model(str(traced), model_type="bert", hidden_size=model.config.hidden_size,
                               num_heads=model.config.num_attention_heads)
        fused.save_model_to_file(str(fp32))
        traced.unlink()
        worst = float(np.min(np.sum(_run(fp32, {n: probe[n].numpy() for n in inputs})
                                    * expected, axis=1)))
        if worst < EXPORT_MIN_COSINE:
            raise ModelIntegrityError(f"{model_dir}: the ONNX export disagrees with torch "
                                      f"(cosine {worst:.5f}); use RAG_EMBED_BACKEND=torch")
        int8 = work / INT8_FILE
        kept_float = float_nodes(fp32)
        quant_log = logging.getLogger()
        level = quant_log.level
        quant_log.setLevel(logging.ERROR)   # its advice to pre-process is about static quantization
        try:
            # Shape inference cannot type the outputs of fused (com.microsoft) ops: they are float.
            quantize_dynamic(str(fp32), str(int8), per_channel=True, weight_type=QuantType.QInt8,
                             nodes_to_exclude=kept_float,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        finally:
            quant_log.setLevel(level)
        fp32.unlink()
        record = {"int8_sha256": sha256_of(int8), "source": str(model_dir),
                  "float_nodes": kept_float, "fused": fused.get_fused_operator_statistics(),
                  "opset": ONNX_OPSET, "recipe": EXPORT_RECIPE, "export_check_cosine": worst,
                  "torch": torch.__version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (work / RECORD_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(work, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest / INT8_FILE


def float_nodes(path: Path) -> list[str]:
    import onnx
    graph = onnx.load(str(path), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type == "MatMul" and FLOAT_LAYERS.search(n.name)]


def _run(path: Path, feeds: dict) -> np.ndarray:
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.astype(np.int64) for k, v in feeds.items()})[0]


def cache_dir(home: Path, weights_sha256: str) -> Path:
    import onnxruntime as ort
    return (Path(home) / "onnx" /
            f"{weights_sha256[:16]}-r{EXPORT_RECIPE}-opset{ONNX_OPSET}-ort{ort.__version__}")


def cached_int8_model(settings: Settings, model_dir: Path) -> Path:
    """The int8 model for `model_dir`, exported now if the cache lacks it or fails its check."""
    expected = expected_weights_sha256(settings)
    folder = cache_dir(settings.home, expected or sha256_of(model_dir / "model.safetensors"))
    record_path, model_path = folder / RECORD_FILE, folder / INT8_FILE
    if record_path.is_file() and model_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("int8_sha256") == sha256_of(model_path):
            return model_path
        print(f"{model_path}: does not match its recorded sha256; exporting again",
              file=sys.stderr)
    verify_model_dir(model_dir, expected)
    print(f"exporting {model_dir} to int8 ONNX under {folder} (once)", file=sys.stderr)
    return export_int8(model_dir, folder)


class OnnxInt8Embedder(LocalModelEmbedder):
    """The int8 ONNX backend of the same model (cosine >= 0.985 to torch on news passages)."""

    backend = BACKEND

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.model_path: Path | None = None
        self._session = None
        self._inputs: list[str] = []
        self._encoder_tokenizer = None   # truncates to the model's length and pads the batch

    def _load(self, model_dir: Path):
        self.model_path = cached_int8_model(self.settings, model_dir)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(self.model_path), options,
                                             providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        encoder = _load_tokenizer(model_dir)
        pad = encoder.padding or {}   # tokenizer.json may pad to a fixed length: pad per batch
        encoder.enable_truncation(_max_seq_length(model_dir))
        encoder.enable_padding(pad_id=pad.get("pad_id", 0), pad_type_id=pad.get("pad_type_id", 0),
                               pad_token=pad.get("pad_token", "[PAD]"))
        self._encoder_tokenizer = encoder
        return encoder

    @property
    def dim(self) -> int:
        return int(self.load()._session.get_outputs()[0].shape[1])

    @property
    def llama_model(self):
        """A llama-index embedding over this backend (for llama-index components that want one)."""
        return llama_adapter(self.load())

    def _encode(self, texts: list[str]) -> list[list[float]]:
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        lengths = self.count_tokens(texts)
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batch = max(1, self.settings.embed_batch)
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            encoded = self._encoder_tokenizer.encode_batch([texts[i] for i in idx])
            feeds = {"input_ids": [e.ids for e in encoded],
                     "attention_mask": [e.attention_mask for e in encoded],
                     "token_type_ids": [e.type_ids for e in encoded]}
            out[idx] = self._session.run(None, {n: np.asarray(feeds[n], dtype=np.int64)
                                                for n in self._inputs})[0]
        return out.tolist()


def _load_tokenizer(model_dir: Path):
    from tokenizers import Tokenizer
    path = model_dir / "tokenizer.json"
    if path.is_file():
        return Tokenizer.from_file(str(path))
    from transformers import AutoTokenizer   # slow tokenizer files only: convert once
    return Tokenizer.from_str(AutoTokenizer.from_pretrained(str(model_dir))
                              .backend_tokenizer.to_str())


def _max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return int(value)
    return 512


def llama_adapter(embedder):
    """Wrap any of our embedders as a llama-index BaseEmbedding (imported only when asked for)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class OurEmbedding(BaseEmbedding):
        _ours: object = PrivateAttr()

        def __init__(self, ours):
            super().__init__(model_name=f"{ours.name} ({ours.backend})",
                             embed_batch_size=ours.settings.embed_batch)
            self._ours = ours

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._ours.embed_query(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._ours.embed_query(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._ours.embed_texts([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._ours.embed_texts(texts)

    return OurEmbedding(embedder)
