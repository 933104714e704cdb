"""Small file helpers: atomic writes, hashing, JSON/YAML, and safe tensor loading.

Every file smfa writes goes through ``atomic_*`` so that an interrupted run never leaves a
half-written file behind. Tensors are loaded from safetensors only: pickle-based files
(``.bin``, ``.pt``, ``.pth``, ``.pkl``) are refused unless ``allow_pickle=True``.
"""

from __future__ import annotations

import hashlib
import json
import math
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
def atomic_path(path: str | os.PathLike, commit: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    With ``commit=False`` the caller renames it (several files replaced as a set); the
    temporary file is removed on the way out if it is still there.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give files the usual mode
    try:
        yield tmp
        if commit:
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


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats made strict-JSON: ``inf``/``-inf`` as those strings (a k
    of ``inf`` stays readable), ``nan`` as ``None`` (shown as "not measured", never as 0)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def dumps_json(obj: Any) -> str:
    """Deterministic strict JSON (sorted keys, 2-space indent, trailing newline; no bare NaN)."""
    return (
        json.dumps(json_safe(obj), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    text = "".join(
        json.dumps(json_safe(r), sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
        for r in rows
    )
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


_ST_DTYPES = {
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "float64": "F64",
    "int64": "I64",
    "int32": "I32",
    "bool": "BOOL",
}


class SafetensorsWriter:
    """Write a ``.safetensors`` file tensor by tensor, rows at a time, without holding them.

    ``specs`` is ``{name: (torch dtype, shape)}`` in file order; the header (format of the
    safetensors spec: 8-byte little-endian length, JSON, padded to 8 bytes) is written first,
    then :meth:`write` must be called with consecutive row blocks of each tensor in that
    order. :meth:`close` checks that every byte was written. Use as a context manager inside
    :func:`atomic_path` (the file is only complete on success).
    """

    def __init__(self, path: str | os.PathLike, specs: dict, metadata: dict | None = None):
        import struct

        import torch

        header: dict[str, Any] = {}
        if metadata:
            header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
        offset = 0
        self._order = []
        for name, (dtype, shape) in specs.items():
            key = str(dtype).removeprefix("torch.")
            if key not in _ST_DTYPES:
                raise ValueError(f"SafetensorsWriter: dtype {dtype} not supported")
            size = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
            header[name] = {
                "dtype": _ST_DTYPES[key],
                "shape": list(shape),
                "data_offsets": [offset, offset + size],
            }
            self._order.append((name, dtype, size))
            offset += size
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        self._file = open(path, "wb")  # noqa: SIM115 (closed in close())
        self._file.write(struct.pack("<Q", len(raw)) + raw)
        self._i, self._left = 0, self._order[0][2] if self._order else 0

    def write(self, name: str, rows) -> None:
        """Append the next rows (a tensor of the declared dtype's values) of tensor ``name``."""
        import torch

        while self._i < len(self._order) and self._left == 0:  # zero-size tensors
            self._i += 1
            self._left = self._order[self._i][2] if self._i < len(self._order) else 0
        if self._i >= len(self._order) or self._order[self._i][0] != name:
            raise ValueError(f"SafetensorsWriter: unexpected tensor {name!r}")
        data = rows.detach().to(self._order[self._i][1]).contiguous().cpu().reshape(-1)
        buf = data.view(torch.uint8).numpy()
        if buf.nbytes > self._left:
            raise ValueError(f"SafetensorsWriter: too many rows for {name!r}")
        self._file.write(memoryview(buf))
        self._left -= buf.nbytes

    def close(self) -> None:
        self._file.close()
        rest = self._left + sum(size for _, _, size in self._order[self._i + 1 :])
        if rest:
            raise ValueError(f"SafetensorsWriter: {rest} bytes were never written")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self._file.close()


def check_no_pickle(folder: str | os.PathLike, allow_pickle: bool = False) -> None:
    """Refuse a model/adapter folder that holds only pickle weights (unless allowed).

    This is the one guard every model folder passes through (``smfa.models.load``); with
    ``allow_pickle`` transformers / peft load the pickle files weights-only.
    """
    folder = Path(folder)
    if allow_pickle or not folder.is_dir():
        return
    has_st = any(folder.glob("*.safetensors"))
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles and not has_st:
        raise SmfaError(
            f"{folder / pickles[0]}: pickle weights are refused; only safetensors are loaded "
            "(pass --allow-pickle to load a trusted file weights-only)"
        )


MARKER = "smfa-output.json"


@contextmanager
def output_lock(path: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on output ``path`` for the block (two writers cannot share it).

    The lock is ``fcntl.flock`` on a sibling ``.<name>.lock`` file, released by the kernel when
    the process dies, so a killed run never leaves a stale lock; the file is removed on exit.
    A second process gets :class:`SmfaError` at once (no waiting).
    """
    import fcntl

    path = Path(path)
    lock = path.parent / f".{path.name}.lock"
    created = [p for p in [lock.parent, *lock.parent.parents] if not p.exists()]
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SmfaError(f"{path}: another smfa process is writing it (lock {lock})") from None
    try:
        yield path
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)
        for d in created:  # folders made only for the lock: gone again when nothing landed
            try:
                d.rmdir()
            except OSError:
                break


def output_kind(path: str | os.PathLike) -> str | None:
    """The ``kind`` an smfa command recorded in an output folder's marker (None: not ours)."""
    marker = Path(path) / MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("kind") if isinstance(data, dict) else None


def _inside(a: Path, b: Path) -> bool:
    return a == b or b in a.parents


def check_output(
    final: str | os.PathLike,
    kind: str,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike | None] = (),
    is_file: bool = False,
    owned: bool | None = None,
) -> Path:
    """Refuse an output path that would destroy what this command did not create.

    ``final`` may not be, contain or lie inside one of ``inputs``. An existing ``final`` is
    accepted when it is an empty folder or an earlier output of the same ``kind`` (a folder with
    a marker; for a file, ``owned`` says whether it is one); anything else needs ``overwrite``.
    A file where a folder is wanted (or the reverse) is always refused. Raises SmfaError naming
    the path.
    """
    final = Path(final)
    real = final.resolve()
    for inp in inputs:
        if inp is None:
            continue
        src = Path(inp).resolve()
        if _inside(real, src) or _inside(src, real):
            raise SmfaError(
                f"{final}: output would overwrite this command's input {inp}; choose another path"
            )
    if not final.exists():
        if final.is_symlink():
            raise SmfaError(f"{final}: is a broken symbolic link; remove it or choose another path")
        return final
    if is_file and final.is_dir():
        raise SmfaError(f"{final}: is a folder; the output is a file (choose a file path)")
    if not is_file and not final.is_dir():
        raise SmfaError(f"{final}: is a file; the output is a folder (choose another path)")
    if overwrite:
        return final
    ours = owned if is_file else (output_kind(final) == kind or not any(final.iterdir()))
    if not ours:
        what = "file" if is_file else "folder"
        raise SmfaError(
            f"{final}: {what} exists and is not an earlier `smfa {kind}` output; "
            "pass --overwrite to replace it"
        )
    return final


@contextmanager
def staged_dir(
    final: str | os.PathLike,
    kind: str | None = None,
    overwrite: bool = False,
    inputs: Iterable[str | os.PathLike | None] = (),
) -> Iterator[Path]:
    """Build a folder under a temporary name and move it to ``final`` only on success.

    Used by stages that write several files, so that a failure leaves no partial output. With
    a ``kind`` (the command), ``final`` is first checked by :func:`check_output` and the new
    folder gets a marker (``smfa-output.json``) so a later run of the same command may replace
    it. The replacement is atomic: the old folder is renamed aside, the new one renamed in, then
    the old one deleted.
    """
    final = Path(final)
    if kind is not None:
        check_output(final, kind, overwrite, inputs)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    old = None
    try:
        yield tmp
        if kind is not None:
            from smfa import __version__

            (tmp / MARKER).write_text(
                dumps_json({"kind": kind, "smfa_version": __version__}), encoding="utf-8"
            )
        if final.exists() or final.is_symlink():
            old = final.parent / f".{final.name}.{os.getpid()}.old"
            os.replace(final, old)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            if final.exists():
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
            else:  # the new folder did not land: put the old one back
                os.replace(old, final)
