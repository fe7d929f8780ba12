"""MiniLM on ONNX Runtime and the Rust `tokenizers`: no torch at query time.

The ONNX file is exported once from the packaged weights (`export_onnx`, which needs torch and is a build-time
step) and cached under `Settings.cache_dir`. Tokenisation, mean pooling over the attention mask and L2
normalisation reproduce sentence-transformers' `encode(normalize_embeddings=True)` for this model: texts are
stripped, truncated to the model's `max_seq_length` (256 in `sentence_bert_config.json`, not the 128 that the
packaged `tokenizer.json` carries) and padded to the longest text of their batch.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Bump when the exported graph changes (inputs, outputs, opset): a new version is a new file name, so an index
# built with the old export is recognised as stale through the model hash in its manifest.
EXPORT_VERSION = 1
ONNX_OPSET = 17
PRECISIONS = ("fp32", "int8")
# Texts per ONNX Runtime call while building (Settings.embed_batch_size defaults to it). Texts are sorted by
# length first, so a batch pads to similar lengths. Embedding the 1,989 chunk and sentence texts on the shared
# 2-core machine (fp32, 2 threads, load ≈ 10): batch 16 → 100 s, 32 → 118 s, 64 → 122 s, 128 → 138 s; CPU time on
# a quarter of them: batch 8 → 11.3 s, 16 → 12.0 s, 32 → 13.0 s. Smaller batches pad less and fit the caches.
BUILD_BATCH = 16
# Batches embedded side by side, each on one ONNX Runtime thread. Half the texts of a build, batch 16, at load ≈ 4.5
# on 2 cores: one 2-thread session 37.0 s of CPU, two 1-thread runs at once 32.8 s (same vectors, bit for bit):
# a 16-text batch is too small to split across threads without waiting at every operator.
BULK_WORKERS = 2
EXTERNAL_DATA = "model.data"  # the weights file of the external-data copy (see external_data_copy)


def _meta_path(model: Path) -> Path:
    return model.with_suffix(".json")


def model_sha256(model: Path) -> str:
    """The ONNX file's SHA-256, read from its sidecar when size and mtime still match (no 90 MB re-hash)."""
    from .config import file_sha256

    st = model.stat()
    meta_file = _meta_path(model)
    try:
        meta = json.loads(meta_file.read_text())
        if meta.get("size") == st.st_size and meta.get("mtime_ns") == st.st_mtime_ns and meta.get("sha256"):
            return meta["sha256"]
    except (OSError, ValueError):
        meta = {}
    meta.update(sha256=file_sha256(model), size=st.st_size, mtime_ns=st.st_mtime_ns)
    _atomic_write(meta_file, json.dumps(meta, indent=2).encode())
    return meta["sha256"]


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def onnx_model_file(cache_dir: Path, model_dir: Path, name: str, precision: str = "fp32") -> Path:
    """The cached ONNX export of the packaged model in the given precision, exported (or quantised) on first use."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown embedding precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    folder = cache_dir / "models" / f"{name}-onnx-v{EXPORT_VERSION}"
    target = folder / f"model-{precision}.onnx"
    if target.exists():
        return target
    from filelock import FileLock  # only to export: importing it is ~25 ms of a cold start

    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".export.lock"), timeout=900):
        if target.exists():  # another process finished it while we waited
            return target
        if precision == "int8":
            quantize_int8(onnx_model_file(cache_dir, model_dir, name, "fp32"), target)
        else:
            export_onnx(model_dir, target)
    return target


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Export the packaged MiniLM's transformer (token embeddings) to ONNX with torch; atomic write."""
    import time

    t0 = time.perf_counter()
    log.warning("exporting %s to ONNX (one-off, needs torch; about 10-20 s)", model_dir.name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    class TokenEmbeddings(torch.nn.Module):
        """The transformer with keyword inputs and one output (transformers' positional order varies by version)."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: D102
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    model = TokenEmbeddings().eval()
    dummy = {k: torch.ones((2, 8), dtype=torch.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
    dynamic = {k: {0: "batch", 1: "sequence"} for k in (*dummy, "last_hidden_state")}
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    with torch.inference_mode():
        torch.onnx.export(model, (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]), str(tmp),
                          input_names=list(dummy), output_names=["last_hidden_state"], dynamic_axes=dynamic,
                          opset_version=ONNX_OPSET, do_constant_folding=True, dynamo=False)
    os.replace(tmp, target)
    from .config import file_sha256

    meta = {"source": str(model_dir), "source_sha256": file_sha256(model_dir / "model.safetensors"),
            "export_version": EXPORT_VERSION, "opset": ONNX_OPSET, "torch": torch.__version__, "precision": "fp32"}
    _atomic_write(_meta_path(target), json.dumps(meta, indent=2).encode())
    model_sha256(target)
    log.warning("exported %s in %.1f s", target, time.perf_counter() - t0)
    return target


def quantize_int8(source: Path, target: Path) -> Path:
    """Dynamic int8 quantisation of the fp32 export's weights (onnxruntime.quantization); atomic write."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}.onnx")
    quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
    os.replace(tmp, target)
    meta = json.loads(_meta_path(source).read_text())
    meta.update(precision="int8", quantized_from=model_sha256(source))
    for k in ("sha256", "size", "mtime_ns"):
        meta.pop(k, None)
    _atomic_write(_meta_path(target), json.dumps(meta, indent=2).encode())
    model_sha256(target)
    return target


def external_data_copy(model: Path, sha256: str) -> Path:
    """The model with its weights in a file beside the graph, made once from `model` (needs the onnx package).

    ONNX Runtime maps external weights from their file instead of copying them out of a 90 MB protobuf: creating
    the session took 0.11-0.16 s instead of 0.30-0.37 s of CPU, with bit-identical outputs (451 corpus texts and a
    question compared). The folder is named after the source's hash, so a copy is never stale.
    """
    folder = model.with_name(f"{model.stem}-external-{sha256[:16]}")
    target = folder / "model.onnx"
    if target.exists() and (folder / EXTERNAL_DATA).exists():
        return target
    import onnx

    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    onnx.save_model(onnx.load(str(model)), str(tmp / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=EXTERNAL_DATA, size_threshold=1024)
    from .embed import publish_dir

    publish_dir(tmp, folder)
    log.info("wrote %s (weights beside the graph, for fast loading)", folder)
    return target


class OnnxEmbedder:
    """all-MiniLM-L6-v2 token embeddings on ONNX Runtime; mean pooling and L2 norm as sentence-transformers does."""

    runtime = "onnx"

    def __init__(self, model_file: Path, model_dir: Path, name: str, precision: str = "fp32",
                 workers: int = 0) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name, self.precision, self.model_file = name, precision, model_file
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(config["max_seq_length"])
        self.dimension = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
        tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_seq_length)
        tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")  # to the longest text of the batch
        self._tokenizer = tok
        opts = ort.SessionOptions()
        # One thread per run: batches run side by side instead (see BULK_WORKERS); outputs are bit-identical.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting on a shared CPU
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.workers = workers or min(BULK_WORKERS, os.cpu_count() or 1)  # batches embedded at once
        # What produced the vectors: recorded in the index manifest and checked when an index is loaded.
        self.identity = {"name": name, "runtime": self.runtime, "precision": precision,
                         "model_file": model_file.name, "model_sha256": model_sha256(model_file)}
        # Creating the session (graph optimisation, weight packing) releases the GIL: it runs on a thread while
        # the caller loads the index, and the first encode waits for it.
        self._ready = threading.Event()
        self._session_or_error: ort.InferenceSession | BaseException | None = None
        # Not a daemon: a process that exits while the session is being created must wait for it (a daemon
        # thread still inside ONNX Runtime at interpreter shutdown aborts the process).
        threading.Thread(target=self._create_session, args=(ort, opts), daemon=False, name="rag-onnx-load").start()

    def _create_session(self, ort, opts) -> None:
        try:
            try:  # the same graph and weights, loaded faster; the manifest still names the source file
                path = external_data_copy(self.model_file, self.identity["model_sha256"])
            except Exception as e:  # noqa: BLE001 - no onnx package, read-only cache: the source file works
                log.warning("cannot use an external-data copy of %s (%s); loading it as is", self.model_file, e)
                path = self.model_file
            self._session_or_error = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except BaseException as e:  # noqa: BLE001 - re-raised by the first encode, in the caller's thread
            self._session_or_error = e
        self._ready.set()

    @property
    def session(self):
        """The ONNX Runtime session, once created (raises what creating it raised)."""
        self._ready.wait()
        if isinstance(self._session_or_error, BaseException):
            raise RuntimeError(f"cannot load the ONNX model {self.model_file}: {self._session_or_error}") \
                from self._session_or_error
        return self._session_or_error

    def token_embeddings(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Last hidden states and attention mask of one padded batch."""
        encs = self._tokenizer.encode_batch([str(t).strip() for t in texts])
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        session = self.session
        inputs = {i.name for i in session.get_inputs()}
        out = session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in inputs})[0]
        return out, mask

    def encode(self, texts: list[str], batch_size: int = BUILD_BATCH) -> np.ndarray:
        """Embed texts as L2-normalised float32 rows, batched by length so that little padding is computed."""
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), np.float32)

        def embed(rows: list[int]) -> None:
            hidden, mask = self.token_embeddings([texts[i] for i in rows])
            out[rows] = mean_pool_normalize(hidden, mask)

        batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
        if len(batches) > 1 and self.workers > 1:  # ONNX Runtime and tokenizers release the GIL while they work
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.workers, thread_name_prefix="rag-embed") as pool:
                list(pool.map(embed, batches))
        else:
            for rows in batches:
                embed(rows)
        return out


def mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors under the attention mask, then L2-normalised (sentence-transformers' order)."""
    m = mask[..., None].astype(np.float32)
    summed = (hidden * m).sum(axis=1)
    pooled = summed / np.clip(m.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
