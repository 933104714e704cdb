"""Shared by the measuring scripts: the machine line and writing docs/results/<name>.json."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from write_results import save_summary  # noqa: E402


def machine() -> str:
    """``2 CPU cores, 23 GiB RAM, no GPU; Linux x86_64; Python 3.11.7, torch ..., ...``."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        ram_text = f"{ram:.0f} GiB RAM"
    except (ValueError, OSError):
        ram_text = "RAM unknown"
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    libs = []
    for pkg in ("torch", "transformers", "peft"):
        try:
            libs.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    return (
        f"{os.cpu_count()} CPU cores, {ram_text}, {gpu}; {platform.system()} "
        f"{platform.machine()}; Python {platform.python_version()}, {', '.join(libs)}"
    )


def save(
    name: str,
    title: str,
    tables: dict | None = None,
    values: dict | None = None,
    notes: list[str] | None = None,
    seed: int | None = None,
) -> Path:
    """Write the summary of this script's run (the command line is this process's argv)."""
    command = "python " + " ".join(
        [Path(sys.argv[0]).as_posix().split("/work/main/")[-1], *sys.argv[1:]]
    )
    path = save_summary(
        name,
        {
            "title": title,
            "command": command,
            "machine": machine(),
            "date": datetime.date.today().isoformat(),
            "seed": seed,
            "tables": tables or {},
            "values": values or {},
            "notes": notes or [],
        },
    )
    print(f"wrote {path}")
    return path
