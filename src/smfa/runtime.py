"""Choose device and dtype once, at the entry point, and pass them down."""

from __future__ import annotations

import os
from pathlib import Path

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``."""
    if device == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        local = os.environ.get("LOCAL_RANK")  # accelerate launch: one GPU per process
        return (
            f"cuda:{local}"
            if local is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1
            else "cuda"
        )
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: no CUDA device is visible")
    return device


def resolve_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}: one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def work_dir_for(out: str | Path) -> Path:
    """The resumable scratch folder of a stage whose final output is ``out``."""
    out = Path(out)
    return out.parent / f".{out.name}.work"
