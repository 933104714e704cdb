"""The ledger folder on disk: its event log, hashes, and the benchmark seen by one request.

::

    LEDGER/ledger.jsonl                  events, one JSON object per line (append-only)
    LEDGER/requests/<id>-<rev>/          one folder per trained delta of a request:
        delta.safetensors  adapters/<tag>/  config.yaml  summary.json

Appending is atomic: the whole file is rewritten under a temporary name (old bytes + new
lines) and renamed over the old one, so a reader or a killed writer sees the old log or the
new one, never a torn line.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from smfa.errors import SmfaError
from smfa.io import atomic_path, json_safe, read_jsonl, sha256_file
from smfa.ledger.events import State, replay

LEDGER_FILE = "ledger.jsonl"
REQUESTS = "requests"
KIND = "ledger"
#: Splits whose profiles a model was trained on (a request may name these profiles only).
TRAINED_PROFILE_SPLITS = ("forget15", "retain")


def ledger_file(ledger: str | Path) -> Path:
    return Path(ledger) / LEDGER_FILE


def load_state(ledger: str | Path) -> State:
    """Replay ``LEDGER/ledger.jsonl``; SmfaError naming the file for a missing or broken log."""
    path = ledger_file(ledger)
    if not path.is_file():
        raise SmfaError(f"{path}: file not found (not a ledger; create one with smfa ledger init)")
    try:
        return replay(read_jsonl(path))
    except (ValueError, KeyError) as e:
        raise SmfaError(f"{path}: {e}") from None


def event_line(event: dict) -> str:
    return json.dumps(json_safe(event), sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def append_events(ledger: str | Path, events: list[dict]) -> None:
    """Append ``events`` to the log in one atomic rename (all of them or none)."""
    path = ledger_file(ledger)
    old = path.read_bytes() if path.is_file() else b""
    new = "".join(event_line(e) for e in events).encode("utf-8")
    with atomic_path(path) as tmp:
        tmp.write_bytes(old + new)


def files_hash(folder: str | Path, names: list[str] | None = None) -> str:
    """sha256 over ``(relative path, sha256)`` of the files under ``folder`` (sorted), or of
    ``names`` only: one hash for a whole adapter or model folder."""
    folder = Path(folder)
    paths = [folder / n for n in names] if names else sorted(p for p in folder.rglob("*"))
    h = hashlib.sha256()
    for p in paths:
        if p.is_file():
            h.update(f"{p.relative_to(folder).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def model_hash(model: str | Path) -> str:
    """The hash of a model folder: its ``config.json`` and every ``*.safetensors`` file."""
    model = Path(model)
    if not (model / "config.json").is_file():
        raise SmfaError(f"{model}: model folder not found (no config.json)")
    names = ["config.json", *sorted(p.name for p in model.glob("*.safetensors"))]
    return files_hash(model, names)


def bench_hash(bench: str | Path) -> str:
    """The hash of a benchmark: its ``manifest.json`` (which holds every file's sha256)."""
    path = Path(bench) / "manifest.json"
    if not path.is_file():
        raise SmfaError(f"{bench}: benchmark folder not found (no manifest.json)")
    return sha256_file(path)


def request_hashes(folder: Path) -> dict:
    """Hashes recorded for one request folder: its delta and each adapter."""
    out = {"delta": sha256_file(folder / "delta.safetensors")}
    adapters = folder / "adapters"
    if adapters.is_dir():
        out["adapters"] = {a.name: files_hash(a) for a in sorted(adapters.iterdir()) if a.is_dir()}
    return out


class RequestBench:
    """The benchmark as one request's training sees it.

    ``split("request")`` holds the rows of the request's profiles (from the trained splits);
    ``retain`` and ``retain_few`` lose the request's profiles and ``forgotten`` (sequential
    mode: the active earlier requests' profiles), so D_r^few never teaches what is removed.
    Everything else is the bench.
    """

    SPLIT = "request"

    def __init__(self, bench, profiles: set[str], forgotten: set[str] = frozenset()):
        self._bench, self.profiles = bench, set(profiles)
        self._drop = set(profiles) | set(forgotten)

    def split(self, name: str) -> list[dict]:
        if name == self.SPLIT:
            return [
                r
                for s in TRAINED_PROFILE_SPLITS
                for r in self._bench.split(s)
                if r["subject_id"] in self.profiles
            ]
        rows = self._bench.split(name)
        if name in ("retain", "retain_few"):
            rows = [r for r in rows if r["subject_id"] not in self._drop]
        return rows

    def __getattr__(self, name):
        return getattr(self._bench, name)


def trained_profiles(bench) -> set[str]:
    """Profile ids a request may name: those the original model was trained on."""
    return {r["subject_id"] for s in TRAINED_PROFILE_SPLITS for r in bench.split(s)}
