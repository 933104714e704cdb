"""The stage cache of ``smfa run``: ``manifest.json`` records each finished stage's key.

A stage's key is the hash of everything it depends on (its settings and the keys of the stages
it reads); a stage whose key is recorded and whose outputs exist is skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from smfa.io import read_json, sha256_bytes, sha256_file, write_json
from smfa.progress import say


def key_of(obj) -> str:
    """A short stable hash of a JSON-able object."""
    return sha256_bytes(json.dumps(obj, sort_keys=True, default=str).encode())[:16]


def file_key(path: Path | str | None) -> str | None:
    """A short hash of a file's bytes (``None`` when there is no such file)."""
    if path is None or not Path(path).is_file():
        return None
    return sha256_file(path)[:16]


def fingerprint(path: Path) -> str | None:
    """What a stage's output must still be for the stage to count as done: a file's sha256, a
    folder's list of files and sizes (cheap for multi-GB models, catches truncated files),
    ``None`` when it is missing."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)[:16]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        listing = [f"{p.relative_to(path).as_posix()}:{p.stat().st_size}" for p in files]
        return sha256_bytes("\n".join(listing).encode())[:16]
    return None


class Stages:
    """Runs named stages once: a stage is skipped when its key and outputs are recorded."""

    def __init__(self, manifest_path: Path, total: int):
        self.path = Path(manifest_path)
        self.manifest = read_json(self.path) if self.path.is_file() else {"stages": {}}
        self.n, self.total = 0, total
        self.t0 = time.monotonic()
        self.ran: list[str] = []

    def done(self, name: str, key: str, outputs: list[Path]) -> bool:
        """The stage ran with this key and its outputs are still what it wrote."""
        rec = self.manifest["stages"].get(name)
        if not rec or rec["key"] != key:
            return False
        prints = rec.get("fingerprints") or {}
        return all(
            prints.get(self.rel(o)) is not None and fingerprint(Path(o)) == prints[self.rel(o)]
            for o in outputs
        )

    def rel(self, path: Path) -> str:
        """``path`` relative to the run folder when inside it (a copied run stays valid)."""
        path, root = Path(path).resolve(), self.path.parent.resolve()
        return path.relative_to(root).as_posix() if root in path.parents else str(path)

    def run(self, name: str, key: str, outputs: list[Path], fn: Callable[[], object]) -> bool:
        """Run ``fn`` unless the stage is done; record it. True when it ran."""
        self.n += 1
        if self.done(name, key, outputs):
            return False
        elapsed = time.monotonic() - self.t0
        say(f"[{self.n}/{self.total}] {name}  (elapsed {elapsed / 60:.1f} min)")
        t = time.monotonic()
        fn()
        self.manifest["stages"][name] = {
            "key": key,
            "outputs": [self.rel(o) for o in outputs],
            "fingerprints": {self.rel(o): fingerprint(Path(o)) for o in outputs},
            "seconds": round(time.monotonic() - t, 2),
        }
        self.ran.append(name)
        self.save()
        return True

    def key(self, name: str) -> str:
        """The recorded key of a stage ("" when it never ran)."""
        return self.manifest["stages"].get(name, {}).get("key", "")

    def save(self) -> None:
        write_json(self.path, self.manifest)
