"""The run config of ``smfa run`` (``configs/run/*.yaml``): typed, and checked before any stage.

``methods`` holds typed :class:`MethodSpec` entries; its default is every registered method
plus the variants each declares (SMFA's ablations), so a new method joins default runs without
editing a list.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from smfa.config import from_dict
from smfa.errors import SmfaError
from smfa.io import read_yaml
from smfa.splits import FORGET_SPLITS

GROUPS = ("main", "ablation")


@dataclass
class MethodSpec:
    """One method of a run.

    Attributes:
        method: registered method name.
        options: the method's options (its ``Options`` dataclass fields).
        config: unlearning config YAML (default: the run's ``unlearn_config``, else shipped).
        group: main (main table) or ablation (ablation table).
        retain_few: size of D_r^few (default: the config's, else the bench's).
    """

    method: str
    options: dict = field(default_factory=dict)
    config: str | None = None
    group: str = "main"
    retain_few: int | None = None

    def __post_init__(self):
        if not isinstance(self.options, dict):
            raise ValueError(f"options={self.options!r}: expected a mapping")
        if self.group not in GROUPS:
            raise ValueError(f"group={self.group!r}: main or ablation")


def default_methods() -> dict[str, MethodSpec]:
    """Every registered method, then the variants it declares (``Method.variants``)."""
    from smfa.registry import METHODS

    out = {}
    for name in METHODS.names():
        out[name] = MethodSpec(name)
        for label, v in METHODS.get(name).variants.items():
            out[label] = MethodSpec(name, dict(v.get("options", {})), group=v.get("group", "main"))
    return out


def _method_spec(label: str, spec) -> MethodSpec:
    if isinstance(spec, MethodSpec):
        return spec
    if not isinstance(spec, dict):
        raise ValueError(f"methods.{label}: expected a mapping")
    names = {f.name for f in dataclasses.fields(MethodSpec)}
    unknown = sorted(set(spec) - names)
    if unknown:
        raise ValueError(f"methods.{label}: unknown field '{unknown[0]}'")
    try:
        return MethodSpec(**{"method": label, **spec})
    except ValueError as e:
        raise ValueError(f"methods.{label}.{e}") from None


@dataclass
class RunConfig:
    """A whole experiment (``configs/run/*.yaml``).

    Attributes:
        name: run name; the run folder is ``<out>/<name>``.
        out: parent folder of run folders.
        bench: BenchConfig fields of the generated benchmark.
        bench_dir: use this existing benchmark folder instead of generating one.
        model: ``tiny`` or a local Hugging Face model folder.
        train_config: train config YAML of the original/retain-only models (default: shipped).
        forget: forget05, forget10 or forget15.
        seeds: training/unlearning seeds; everything after the benchmark runs once per seed.
        methods: ``{label: MethodSpec}``; default: every registered method and its variants.
        unlearn_config: unlearning config YAML for every method (default: shipped, per method).
        sweep: ``{"k": [...]}`` re-sculpts the main smfa method's adapters at each k (its
            other options kept; no retraining).
        eval: ``smfa eval`` settings (max_samples, batch_size, judge, max_new_tokens, ...).
        parallel_train: train original and retain-only side by side (1 thread each).
        attacks: ``smfa attack`` settings (suite, attacks, max_questions, options, ...); when
            given (``{}`` for the defaults), the robustness suite runs on the retain-only
            control, the original model and every method (not the k sweep points).
        sequential: the sequential-requests protocol (``smfa.pipeline.sequential``): the
            forget set dealt into requests, measured per composition mode after each one.
    """

    name: str = "run"
    out: str = "runs"
    bench: dict = field(default_factory=dict)
    bench_dir: str | None = None
    model: str = "tiny"
    train_config: str | None = None
    forget: str = "forget10"
    seeds: list = field(default_factory=lambda: [0])
    methods: dict = field(default_factory=default_methods)
    unlearn_config: str | None = None
    sweep: dict = field(default_factory=dict)
    eval: dict = field(default_factory=dict)
    parallel_train: bool = True
    attacks: dict | None = None
    sequential: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.sequential, dict):
            raise ValueError(f"sequential={self.sequential!r}: expected a mapping")
        if self.forget not in FORGET_SPLITS:
            raise ValueError(f"forget={self.forget!r}: one of {', '.join(FORGET_SPLITS)}")
        if not self.seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in self.seeds
        ):
            raise ValueError(f"seeds={self.seeds!r}: a non-empty list of integers")
        if not isinstance(self.methods, dict):
            raise ValueError(f"methods={self.methods!r}: expected a mapping of labels")
        self.methods = {str(k): _method_spec(str(k), v) for k, v in self.methods.items()}
        if self.attacks is not None and not isinstance(self.attacks, dict):
            raise ValueError(f"attacks={self.attacks!r}: expected a mapping of attack settings")
        unknown = set(self.sweep) - {"k"}
        if unknown:
            raise ValueError(f"sweep: unknown field '{sorted(unknown)[0]}' (known: k)")
        ks = self.sweep.get("k", [])
        if not isinstance(ks, list) or any(
            isinstance(k, bool) or not isinstance(k, (int, float)) or math.isnan(k) or k < 0
            for k in ks
        ):
            raise ValueError(f"sweep.k={ks!r}: every k must be a number >= 0 (inf allowed)")

    @property
    def ks(self) -> list[float]:
        return [float(k) for k in self.sweep.get("k", [])]


def load_run_config(path: str | Path) -> RunConfig:
    """Read a run config YAML; paths inside it are relative to the file when they exist there."""
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise SmfaError(f"{path}: expected a mapping of run settings")
    try:
        cfg = from_dict(RunConfig, data, "run")
    except (TypeError, ValueError) as e:
        raise SmfaError(f"{path}: {e}") from None
    here = Path(path).resolve().parent

    def rel(p):
        return str(here / p) if p and not Path(p).is_absolute() and (here / p).exists() else p

    cfg.train_config, cfg.unlearn_config, cfg.bench_dir = (
        rel(cfg.train_config),
        rel(cfg.unlearn_config),
        rel(cfg.bench_dir),
    )
    for spec in cfg.methods.values():
        spec.config = rel(spec.config)
    return cfg
