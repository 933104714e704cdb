"""Progress bars (tqdm) that every long step uses; ``set_quiet(True)`` silences them all."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm

_QUIET = os.environ.get("SMFA_QUIET", "") not in ("", "0")


def set_quiet(quiet: bool) -> None:
    global _QUIET
    _QUIET = bool(quiet)


def is_quiet() -> bool:
    return _QUIET


def bar(total: int | None = None, desc: str = "", unit: str = "it", **kw) -> tqdm:
    """A tqdm bar on stderr (shows rate and time left); disabled when quiet."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=_QUIET,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=False,
        **kw,
    )


def say(msg: str) -> None:
    """One status line on stderr unless quiet."""
    if not _QUIET:
        tqdm.write(msg, file=sys.stderr)
