"""Where shipped files live inside the package (configs, prompts)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_config(*parts: str) -> Path:
    """Path of a shipped config, e.g. ``shipped_config("train", "tiny.yaml")``."""
    return PACKAGE_DIR.joinpath("configs", *parts)
