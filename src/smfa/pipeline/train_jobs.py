"""Train the original and retain-only models in child processes (``smfa train``).

On two CPU cores two trainings side by side, one thread each, take about the time of one
(NOTES.md), which halves the longest part of a run. Progress is read from each child's
``progress.json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
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


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILL when the parent dies (Linux), so a killed
    ``smfa run`` leaves no training behind; elsewhere the parent's ``finally`` kills them."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(cmd: list[str], env: dict, err_file) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=err_file,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )


def train_models(jobs: list[tuple[str, list[str], Path]], parallel: bool) -> None:
    """Run ``(name, command, out)`` jobs, side by side with one thread each when
    ``parallel``; a failed job raises :class:`SmfaError` with its last error line.

    The children die with this process: SIGKILL on parent death (Linux ``PR_SET_PDEATHSIG``)
    and, for any other way out (an exception, SIGTERM, Ctrl-C), killed in ``finally``.
    """
    env = dict(os.environ)
    if parallel and len(jobs) > 1:
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    groups = [jobs] if parallel else [[j] for j in jobs]
    for group in groups:
        procs = []
        try:
            for name, cmd, out in group:
                err = tempfile.TemporaryFile(mode="w+")
                procs.append((name, _spawn(cmd, env, err), out, err))
            pbar = bar(total=100, desc=" + ".join(n for n, *_ in group), unit="%")
            while any(p.poll() is None for _, p, _, _ in procs):
                pbar.n = int(100 * min(_progress(out) for _, _, out, _ in procs))
                pbar.refresh()
                time.sleep(1.0)
            pbar.close()
            for name, p, _, err in procs:
                if p.returncode != 0:
                    err.seek(0)
                    lines = [x for x in err.read().strip().splitlines() if x.strip()]
                    raise SmfaError(f"stage {name}: {(lines[-1:] or ['failed'])[0]}")
        finally:
            for _, p, _, err in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                err.close()
