"""Train the original and retain-only models in child processes (``smfa train``).

On two CPU cores two trainings side by side, one thread each, take about the time of one
(NOTES.md), which halves the longest part of a run. Progress is read from each child's
``progress.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from smfa.errors import SmfaError
from smfa.progress import bar
from smfa.runtime import work_dir_for


def train_command(
    bench: Path, out: Path, model: str, train_config: str | None, exclude: str | None, seed: int
) -> list[str]:
    """The ``smfa train`` command line of one model."""
    cmd = [
        sys.executable,
        "-m",
        "smfa",
        "--quiet",
        "train",
        str(bench),
        str(out),
        "--model",
        model,
        "--seed",
        str(seed),
        "--overwrite",
        "true",
    ]
    if exclude:
        cmd += ["--exclude", exclude]
    if train_config:
        cmd += ["--train_config", train_config]
    return cmd


def _progress(out: Path) -> float:
    try:
        d = json.loads((work_dir_for(out) / "progress.json").read_text())
        return d["step"] / d["total"]
    except (OSError, ValueError, KeyError):
        return 1.0 if (out / "config.json").is_file() else 0.0


def train_models(jobs: list[tuple[str, list[str], Path]], parallel: bool) -> None:
    """Run ``(name, command, out)`` jobs, side by side with one thread each when
    ``parallel``; a failed job raises :class:`SmfaError` with its last error line."""
    env = dict(os.environ)
    if parallel and len(jobs) > 1:
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    groups = [jobs] if parallel else [[j] for j in jobs]
    for group in groups:
        procs = [
            (
                name,
                subprocess.Popen(
                    cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
                ),
                out,
            )
            for name, cmd, out in group
        ]
        pbar = bar(total=100, desc=" + ".join(n for n, _, _ in group), unit="%")
        while any(p.poll() is None for _, p, _ in procs):
            pbar.n = int(100 * min(_progress(out) for _, _, out in procs))
            pbar.refresh()
            time.sleep(1.0)
        pbar.close()
        for name, p, _ in procs:
            err = p.stderr.read()
            if p.returncode != 0:
                last = [x for x in err.strip().splitlines() if x.strip()][-1:] or ["failed"]
                raise SmfaError(f"stage {name}: {last[0]}")
