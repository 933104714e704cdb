"""Read what a run folder holds (SPEC §8): manifest, eval JSONs per seed, mask statistics.

Nothing here loads a model: the report is made from the result files alone, found where
:class:`smfa.layout.RunLayout` (the layout the pipeline writes) puts them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smfa.errors import SmfaError
from smfa.io import read_json
from smfa.layout import REFERENCES, RunLayout, SeedLayout, format_k
from smfa.layout import parse_k as _parse_k_text


@dataclass
class Entry:
    """One evaluated model of the run, with its eval JSON per seed (seeds lacking it are absent).

    ``kind`` is ``reference`` (original, retain_only), ``method`` or ``sweep`` (one k point).
    """

    label: str
    kind: str
    method: str | None = None
    options: dict = field(default_factory=dict)
    group: str = "main"
    k: float | None = None
    evals: dict[str, dict] = field(default_factory=dict)
    attacks: dict[str, dict] = field(default_factory=dict)  # seed -> attacks/<label>.json

    @property
    def summaries(self) -> list[dict]:
        """The ``summary`` of every seed's eval JSON, in seed order."""
        return [e["summary"] for e in self.evals.values()]


@dataclass
class Run:
    """Everything the report shows, read from one run folder."""

    root: Path
    manifest: dict
    seeds: list[str]
    forget: str | None
    references: list[Entry]
    methods: list[Entry]
    sweep: list[Entry]
    mask_stats: dict[str, dict[str, dict]]
    config_text: str | None
    missing: list[str]
    seeds_without_eval: list[str]

    @property
    def models(self) -> list[Entry]:
        """Reference rows then method rows (no sweep points)."""
        return self.references + self.methods

    def method_group(self, group: str) -> list[Entry]:
        """The methods whose manifest ``group`` is ``group``."""
        return [e for e in self.methods if e.group == group]


def seed_roots(root: Path, manifest: dict) -> dict[str, SeedLayout]:
    """``{seed: its layout}``: ``seed_<s>/`` folders only with several seeds."""
    seeds = manifest.get("seeds") or []
    if not isinstance(seeds, list):
        raise SmfaError(f"{root / 'manifest.json'}: field 'seeds' must be a list")
    if not seeds:
        found = sorted(root.glob("seed_*/eval"), key=lambda p: _seed_key(p.parent.name[5:]))
        seeds = [p.parent.name[5:] for p in found] if len(found) > 1 else []
    layout = RunLayout(root, tuple(seeds))
    if len(seeds) > 1:
        return {str(s): layout.seed(s) for s in seeds}
    return {str(seeds[0]) if seeds else "-": layout.seed(None)}


def _seed_key(seed: str) -> tuple:
    """Sort seeds numerically when they are numbers."""
    return (0, int(seed), "") if seed.lstrip("-").isdigit() else (1, 0, seed)


def read_eval(path: Path) -> dict:
    """An eval JSON, checked for the ``summary`` the tables need."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("summary"), dict):
        raise SmfaError(f"{path}: field 'summary' is missing")
    return data


def manifest_methods(root: Path, manifest: dict) -> dict[str, dict]:
    """``manifest["methods"]`` checked: ``{label: {"method", "options", "group"}}``."""
    methods = manifest.get("methods") or {}
    if not isinstance(methods, dict) or not all(isinstance(v, dict) for v in methods.values()):
        raise SmfaError(f"{root / 'manifest.json'}: field 'methods' must map labels to objects")
    return methods


def parse_k(path: Path) -> float:
    """``k_5.json`` -> 5.0, ``k_0.5.json`` -> 0.5, ``k_inf.json`` -> inf."""
    try:
        return _parse_k_text(path.stem[2:])
    except ValueError:
        raise SmfaError(f"{path}: sweep file name must be k_<number>.json") from None


def _entries(root: Path, manifest: dict, roots: dict[str, SeedLayout]) -> list[Entry]:
    """Reference and method entries, in manifest order, then unlisted eval files."""
    entries = [Entry(label, "reference", group="reference") for label in REFERENCES]
    for label, spec in manifest_methods(root, manifest).items():
        entries.append(
            Entry(
                label,
                "method",
                spec.get("method"),
                dict(spec.get("options") or {}),
                spec.get("group") or "main",
            )
        )
    known = {e.label for e in entries}
    extra = sorted({p.stem for r in roots.values() for p in r.eval_dir.glob("*.json")} - known)
    entries += [Entry(label, "method") for label in extra]
    return entries


def _sweep_entries(roots: dict[str, SeedLayout]) -> list[Entry]:
    """One entry per k found in any seed's ``eval/sweep/k_<k>.json``, sorted by k."""
    files = [p for r in roots.values() for p in r.sweep_eval_dir.glob("k_*.json")]
    ks = sorted({parse_k(p) for p in files})
    return [Entry(f"smfa k={format_k(k)}", "sweep", "smfa", {"k": k}, "sweep", k) for k in ks]


def _eval_path(entry: Entry, seed_root: SeedLayout) -> Path | None:
    """Where one seed's eval JSON of ``entry`` is (``None`` for a k that seed lacks)."""
    if entry.kind != "sweep":
        return seed_root.eval(entry.label)
    files = sorted(seed_root.sweep_eval_dir.glob("k_*.json"))
    return next((p for p in files if parse_k(p) == entry.k), None)


def _fill(entry: Entry, roots: dict[str, SeedLayout]) -> None:
    """Read the entry's eval JSON of every seed that has one."""
    for seed, r in roots.items():
        path = _eval_path(entry, r)
        if path is not None and path.is_file():
            entry.evals[seed] = read_eval(path)
        attacks = r.attacks(entry.label) if entry.kind != "sweep" else None
        if attacks is not None and attacks.is_file():
            data = read_json(attacks)
            if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
                raise SmfaError(f"{attacks}: field 'results' is missing")
            entry.attacks[seed] = data


def _mask_stats(methods: list[Entry], roots: dict[str, SeedLayout]) -> dict[str, dict[str, dict]]:
    """``{label: {seed: mask_stats.json}}`` for the methods that wrote mask statistics."""
    out: dict[str, dict[str, dict]] = {}
    for e in methods:
        for seed, r in roots.items():
            path = r.method(e.label) / "mask_stats.json"
            if path.is_file():
                stats = read_json(path)
                if not isinstance(stats, dict) or not isinstance(stats.get("layers"), dict):
                    raise SmfaError(f"{path}: field 'layers' is missing")
                out.setdefault(e.label, {})[seed] = stats
    return out


def _forget_split(manifest: dict, entries: list[Entry]) -> str | None:
    """The forget split: from the manifest, else from the first eval JSON."""
    if manifest.get("forget"):
        return str(manifest["forget"])
    for e in entries:
        for ev in e.evals.values():
            split = ev.get("forget") or (ev["summary"].get("splits") or {}).get("forget")
            if split:
                return str(split)
    return None


def load_run(run_dir: str | Path) -> Run:
    """Read a run folder; raise :class:`SmfaError` when it has no evaluation results."""
    root = Path(run_dir)
    if not root.is_dir():
        raise SmfaError(f"{root}: run folder not found")
    mpath = root / "manifest.json"
    manifest = read_json(mpath) if mpath.is_file() else {}
    if not isinstance(manifest, dict):
        raise SmfaError(f"{mpath}: expected a JSON object")
    all_roots = seed_roots(root, manifest)
    roots = {s: r for s, r in all_roots.items() if r.eval_dir.is_dir()} or _no_eval(all_roots)
    entries = _entries(root, manifest, roots) + _sweep_entries(roots)
    for e in entries:
        _fill(e, roots)
    found = [e for e in entries if e.evals]
    missing = [e.label for e in entries if not e.evals and e.kind != "sweep"]
    methods = [e for e in found if e.kind == "method"]
    cfg = root / "config.yaml"
    return Run(
        root=root,
        manifest=manifest,
        seeds=list(roots),
        forget=_forget_split(manifest, found),
        references=[e for e in found if e.kind == "reference"],
        methods=methods,
        sweep=[e for e in found if e.kind == "sweep"],
        mask_stats=_mask_stats(methods, roots),
        config_text=cfg.read_text(encoding="utf-8") if cfg.is_file() else None,
        missing=missing,
        seeds_without_eval=[s for s in all_roots if s not in roots],
    )


def _no_eval(roots: dict[str, SeedLayout]):
    """Raise the error of a run folder that was not evaluated yet."""
    first = next(iter(roots.values()))
    raise SmfaError(f"{first.eval_dir}: no evaluation results; run the eval stage first")
