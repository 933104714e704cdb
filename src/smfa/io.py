"""Small file helpers: atomic writes, hashing, JSON/YAML, and safe tensor loading.

Every file smfa writes goes through ``atomic_*`` so that an interrupted run never leaves a
half-written file behind. Tensors are loaded from safetensors only: pickle-based files
(``.bin``, ``.pt``, ``.pth``, ``.pkl``) are refused unless ``allow_pickle=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from smfa.errors import SmfaError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give files the usual mode
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dumps_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)
    atomic_write_text(path, text)


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise SmfaError(f"{path}: file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise SmfaError(f"{path}: line {e.lineno}: invalid JSON ({e.msg})") from None


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise SmfaError(f"{path}: file not found")
    rows = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise SmfaError(f"{path}: line {i}: invalid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise SmfaError(f"{path}: line {i}: expected a JSON object")
        rows.append(row)
    return rows


def write_yaml(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))


def read_yaml(path: str | os.PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise SmfaError(f"{path}: file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SmfaError(f"{path}: invalid YAML ({' '.join(str(e).split())})") from None


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_safetensors(path: str | os.PathLike, device: str = "cpu") -> dict:
    """Load a tensor dict from a ``.safetensors`` file (never unpickles)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise SmfaError(f"{path}: file not found")
    if path.suffix in PICKLE_SUFFIXES:
        raise SmfaError(f"{path}: pickle files are refused; convert to safetensors")
    try:
        return load_file(str(path), device=device)
    except Exception as e:  # safetensors raises several types for a corrupt header
        raise SmfaError(f"{path}: not a valid safetensors file ({type(e).__name__})") from None


def save_safetensors(path: str | os.PathLike, tensors: dict, metadata: dict | None = None) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def check_no_pickle(folder: str | os.PathLike, allow_pickle: bool = False) -> None:
    """Refuse a model/adapter folder that holds only pickle weights (unless allowed)."""
    folder = Path(folder)
    if allow_pickle or not folder.is_dir():
        return
    has_st = any(folder.glob("*.safetensors"))
    pickles = [p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if pickles and not has_st:
        raise SmfaError(
            f"{folder}: weights are pickle files ({pickles[0]}); only safetensors are loaded "
            "(pass allow_pickle=True / --allow-pickle to override for trusted files)"
        )


@contextmanager
def staged_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Build a folder under a temporary name and move it to ``final`` only on success.

    Used by stages that write several files, so that a failure leaves no partial output.
    An existing ``final`` is replaced.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
