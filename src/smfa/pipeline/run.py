"""``smfa run CONFIG.yaml``: bench → original + retain-only → methods → eval → report.

Stages are cached (:mod:`smfa.pipeline.cache`): changing one method's options reruns that
method and its evaluation only; an interrupted run resumes (training stages from their last
checkpoint). Methods that reuse trained adapters (``Method.reuses``) get them from an earlier
method of the run that trained them with the same settings (``Method.adapter_tags``), so
SMFA's MFA and anchor are trained once for smfa, its ablations, idk, ties and the k sweep.
The folder layout is :class:`smfa.layout.RunLayout`.
"""

from __future__ import annotations

import dataclasses
import json
import time
import typing
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from smfa.config import to_dict
from smfa.errors import SmfaError
from smfa.io import output_lock, write_yaml
from smfa.layout import REPORT_FILES, RunLayout, SeedLayout, format_k
from smfa.paths import shipped_config
from smfa.pipeline.cache import Stages, file_key, key_of
from smfa.pipeline.config import MethodSpec, RunConfig, load_run_config
from smfa.pipeline.sequential import Protocol, check_sequential, protocol_stage_count
from smfa.pipeline.train_jobs import train_command, train_models
from smfa.progress import say


@dataclass
class Planned:
    """One method run of the plan: its label, spec, instance and training-settings key."""

    label: str
    spec: MethodSpec
    method: object
    settings: str
    out: Path


class SeedRun:
    """The stages of one seed: models, reference evals, methods, sweep points."""

    def __init__(
        self, cfg: RunConfig, stages: Stages, layout: RunLayout, seed: int, bench, bench_key: str
    ):
        self.cfg, self.stages, self.seed = cfg, stages, seed
        self.paths: SeedLayout = layout.seed(seed)
        self.tag = layout.seed_tag(seed)
        self.bench = bench
        train_file = cfg.train_config or shipped_config(
            "train", "tiny.yaml" if cfg.model == "tiny" else "real.yaml"
        )
        self.orig_key = key_of(
            {"bench": bench_key, "model": cfg.model, "train": file_key(train_file), "seed": seed}
        )
        self.ronly_key = key_of({"orig": self.orig_key, "exclude": cfg.forget})
        self.eval_settings = key_of(dict(cfg.eval))
        self.ref_key = key_of({"m": self.ronly_key, "eval": self.eval_settings})

    # -- models ----------------------------------------------------------------------------
    def train(self) -> None:
        cfg, p = self.cfg, self.paths
        wanted = [
            ("original", p.original, self.orig_key, None),
            ("retain_only", p.retain_only, self.ronly_key, cfg.forget),
        ]
        jobs = [
            (
                f"{self.tag}{name}",
                train_command(self.bench, out, cfg.model, cfg.train_config, exclude, self.seed),
                out,
            )
            for name, out, key, exclude in wanted
            if not self.stages.done(f"{self.tag}{name}", key, [out])
        ]
        if jobs:
            side = " side by side" if cfg.parallel_train and len(jobs) > 1 else ""
            say(f"training {' and '.join(n for n, _, _ in jobs)}{side}")
            train_models(jobs, cfg.parallel_train)
        for name, out, key, _ in wanted:
            self.stages.run(f"{self.tag}{name}", key, [out], lambda: None)

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(
        self,
        label: str,
        out: Path,
        model_key: str,
        adapter: Path | None = None,
        reference: bool = True,
    ) -> None:
        from smfa.stages.evaluate import evaluate

        p = self.paths
        key = {"m": model_key, "eval": self.eval_settings}
        ref = {}
        if reference:
            key["ref"] = self.ref_key
            ref = {"reference": str(p.eval("retain_only"))}
        model = p.retain_only if label == "retain_only" else p.original
        self.stages.run(
            f"{self.tag}eval {label}",
            key_of(key),
            [out],
            partial(
                evaluate,
                str(model),
                str(self.bench),
                str(out),
                adapter=str(adapter) if adapter else None,
                forget=self.cfg.forget,
                seed=self.seed,
                overwrite=True,  # the run folder is this run's own (checked_run_root)
                **ref,
                **self.cfg.eval,
            ),
        )

    def references(self) -> None:
        p = self.paths
        self.evaluate("retain_only", p.eval("retain_only"), self.ronly_key, reference=False)
        self.evaluate("original", p.eval("original"), self.orig_key)
        self.attack("retain_only", self.ronly_key)
        self.attack("original", self.orig_key)

    # -- robustness ------------------------------------------------------------------------
    def attack(self, label: str, model_key: str, adapter: Path | None = None) -> None:
        """The attack suite on one model; every model but the control itself is compared
        with the retain-only control's attack JSON (computed once, reused)."""
        if self.cfg.attacks is None:
            return
        from smfa.stages.attack import attack

        p = self.paths
        settings = key_of(dict(self.cfg.attacks))
        control_key = key_of({"m": self.ronly_key, "attacks": settings})
        is_control = label == "retain_only"
        key = (
            control_key
            if is_control
            else key_of({"m": model_key, "attacks": settings, "control": control_key})
        )
        self.stages.run(
            f"{self.tag}attack {label}",
            key,
            [p.attacks(label)],
            partial(
                attack,
                str(p.retain_only if is_control else p.original),
                str(self.bench),
                str(p.attacks(label)),
                adapter=str(adapter) if adapter else None,
                control=None if is_control else str(p.attacks("retain_only")),
                forget=self.cfg.forget,
                seed=self.seed,
                overwrite=True,  # the run folder is this run's own (checked_run_root)
                **self.cfg.attacks,
            ),
        )

    # -- methods ---------------------------------------------------------------------------
    def plan(self, label: str, spec: MethodSpec, out: Path) -> Planned:
        from smfa.registry import METHODS
        from smfa.stages.unlearn import resolve_settings

        s = resolve_settings(
            spec.method,
            self.cfg.model == "tiny",
            spec.config or self.cfg.unlearn_config,
            spec.options,
            {"seed": self.seed},
            spec.retain_few,
        )
        settings = key_of({"train": to_dict(s.train), "retain_few": s.retain_few})
        return Planned(label, spec, METHODS.get(spec.method)(s.options), settings, out)

    def unlearn(self, item: Planned, trained: list[tuple[Planned, str]]) -> str:
        """Run one method (reusing trained adapters when it can); returns its stage key."""
        from smfa.stages.unlearn import unlearn

        need = set(item.method.reuses())
        source = next(
            (
                (p, key)
                for p, key in trained
                if need and need <= set(p.method.adapter_tags()) and p.settings == item.settings
            ),
            None,
        )
        ucfg = item.spec.config or self.cfg.unlearn_config
        mkey = key_of(
            {
                "orig": self.orig_key,
                "method": item.spec.method,
                "options": item.spec.options,
                "forget": self.cfg.forget,
                "config": file_key(ucfg) if ucfg else item.spec.method,
                "seed": self.seed,
                "retain_few": item.spec.retain_few,
                "reuse": source[1] if source else None,
            }
        )
        self.stages.run(
            f"{self.tag}method {item.label}",
            mkey,
            [item.out],
            partial(
                unlearn,
                item.spec.method,
                str(self.paths.original),
                str(self.bench),
                str(item.out),
                forget=self.cfg.forget,
                method_config=ucfg,
                options=item.spec.options,
                seed=self.seed,
                retain_few=item.spec.retain_few,
                adapters_from=str(source[0].out) if source else None,
                overwrite=True,
            ),
        )
        if source is None and item.method.adapter_tags():
            trained.append((item, mkey))
        return mkey

    def methods(self, methods: dict[str, MethodSpec]) -> None:
        plans = [
            self.plan(label, spec, self.paths.method(label)) for label, spec in methods.items()
        ]
        # Methods that train shareable adapters first, so the others can reuse them.
        plans.sort(key=lambda p: (-len(p.method.adapter_tags()), p.label))
        trained: list[tuple[Planned, str]] = []
        for item in plans:
            mkey = self.unlearn(item, trained)
            self.evaluate(item.label, self.paths.eval(item.label), mkey, item.out)
            self.attack(item.label, mkey, item.out)
        self.sweep(methods, trained)

    def sweep(self, methods: dict[str, MethodSpec], trained) -> None:
        """Re-sculpt the main smfa method's adapters at each k (its other options kept)."""
        if not self.cfg.ks:
            return
        base = sweep_base(methods)
        for k in self.cfg.ks:
            spec = dataclasses.replace(base, options={**base.options, "k": k})
            item = self.plan(f"sweep/k_{format_k(k)}", spec, self.paths.sweep(k))
            label = f"k={format_k(k)}"
            mkey = self.unlearn(dataclasses.replace(item, label=label), trained)
            out = self.paths.sweep_eval(k)
            self.evaluate(label, out, mkey, item.out)


def sweep_base(methods: dict[str, MethodSpec]) -> MethodSpec:
    """The smfa method whose adapters the k sweep re-sculpts: ``smfa``, else the first main one."""
    cands = [(label, s) for label, s in methods.items() if s.method == "smfa" and s.group == "main"]
    if not cands:
        raise SmfaError("sweep.k needs an smfa method of group main in 'methods'")
    return dict(cands).get("smfa") or cands[0][1]


def check_config(cfg: RunConfig, methods: dict[str, MethodSpec]) -> None:
    """Everything a run needs that can be checked before the first stage: every method's
    name, settings file and options, the eval settings, the sweep's base method."""
    import inspect

    from smfa.bench import BenchConfig
    from smfa.config import type_problem
    from smfa.stages.evaluate import evaluate
    from smfa.stages.train_original import load_original_config
    from smfa.stages.unlearn import resolve_settings

    for label, spec in methods.items():
        try:
            resolve_settings(
                spec.method,
                cfg.model == "tiny",
                spec.config or cfg.unlearn_config,
                spec.options,
                None,
                spec.retain_few,
            )
        except SmfaError as e:
            raise SmfaError(f"methods.{label}: {e}") from None
    allowed = set(inspect.signature(evaluate).parameters) - set(EVAL_RESERVED)
    unknown = sorted(set(cfg.eval) - allowed)
    if unknown:
        raise SmfaError(f"eval: unknown field '{unknown[0]}' (known: {', '.join(sorted(allowed))})")
    hints = typing.get_type_hints(evaluate)
    for key, value in cfg.eval.items():
        if problem := type_problem(value, hints.get(key)):
            raise SmfaError(f"eval.{key}={value!r}: expected {problem}")
    if cfg.attacks is not None:
        check_attack_settings(cfg.attacks)
    if cfg.ks:
        sweep_base(methods)
    if cfg.bench_dir:
        if not (Path(cfg.bench_dir) / "manifest.json").is_file():
            raise SmfaError(f"bench_dir {cfg.bench_dir}: benchmark folder not found")
    else:
        try:
            BenchConfig.from_dict(dict(cfg.bench))
        except (TypeError, ValueError) as e:
            raise SmfaError(f"bench: {e}") from None
    if cfg.model != "tiny":
        from smfa.models import check_model_dir

        check_model_dir(cfg.model)
    load_original_config(cfg.train_config, cfg.model == "tiny")


EVAL_RESERVED = ("model", "bench", "out", "adapter", "forget", "reference", "seed")
ATTACK_RESERVED = ("model", "bench", "out", "adapter", "control", "forget", "seed", "overwrite")


def check_attack_settings(settings: dict) -> None:
    """The ``attacks:`` key of a run config: known ``smfa attack`` fields, their types, the
    suite and attack names."""
    import inspect

    from smfa.config import type_problem
    from smfa.eval.robustness import suite_attacks
    from smfa.stages.attack import attack

    allowed = set(inspect.signature(attack).parameters) - set(ATTACK_RESERVED)
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise SmfaError(
            f"attacks: unknown field '{unknown[0]}' (known: {', '.join(sorted(allowed))})"
        )
    hints = typing.get_type_hints(attack)
    for key, value in settings.items():
        if problem := type_problem(value, hints.get(key)):
            raise SmfaError(f"attacks.{key}={value!r}: expected {problem}")
    try:
        suite_attacks(settings.get("suite", "default"), settings.get("attacks"))
    except SmfaError as e:
        raise SmfaError(f"attacks: {e}") from None


def _bench_stage(cfg: RunConfig, stages: Stages, layout: RunLayout) -> tuple[Path, str]:
    from smfa import bench as benchmod

    if cfg.bench_dir:
        bench = Path(cfg.bench_dir)
        key = key_of({"bench_dir": str(bench.resolve()), "m": file_key(bench / "manifest.json")})
        stages.run("bench", key, [bench / "manifest.json"], lambda: benchmod.load(bench))
    else:
        bench = layout.bench
        key = key_of({"bench": cfg.bench})
        stages.run(
            "bench", key, [bench / "manifest.json"], lambda: benchmod.build(str(bench), **cfg.bench)
        )
    return bench, key_of({"bench": key, "manifest": file_key(bench / "manifest.json")})


def checked_run_root(root: Path) -> Path:
    """The run folder: new, empty, or an earlier run's (it has a run manifest); never a folder
    that holds something else (a run writes and replaces everything inside its folder)."""
    if root.exists() and not root.is_dir():
        raise SmfaError(f"{root}: is a file; the run folder must be a folder")
    if root.is_dir() and any(root.iterdir()):
        try:
            ok = "stages" in json.loads((root / "manifest.json").read_text())
        except (OSError, ValueError, TypeError):
            ok = False
        if not ok:
            raise SmfaError(
                f"{root}: folder exists and is not an smfa run folder (no manifest.json); "
                "choose another name or out"
            )
    return root


def run(config_file: str, only: list[str] | None = None, out: str | None = None) -> Path:
    """Run (or resume) a whole experiment from a YAML config; finished stages are skipped.

    Args:
        config_file: run config YAML (see ``configs/run/demo.yaml``).
        only: restrict to these method labels (default: all in the config).
        out: parent folder of the run folder (overrides the config's ``out``).
    """
    from smfa.provenance import git_hash, machine, versions
    from smfa.stages.report import report

    cfg = load_run_config(config_file)
    if out is not None:
        cfg.out = out
    methods = {k: v for k, v in cfg.methods.items() if not only or k in only}
    check_config(cfg, methods)
    seq = check_sequential(cfg)
    layout = RunLayout(checked_run_root(Path(cfg.out) / cfg.name), tuple(cfg.seeds))
    with output_lock(layout.root):
        layout.root.mkdir(parents=True, exist_ok=True)
        per_seed = 2 + 2 + 2 * len(methods) + 2 * len(cfg.ks) + protocol_stage_count(seq)
        if cfg.attacks is not None:
            per_seed += 2 + len(methods)
        stages = Stages(layout.manifest, 1 + per_seed * len(cfg.seeds) + 1)
        stages.manifest.update(
            {
                "name": cfg.name,
                "config_file": str(Path(config_file).resolve()),
                "seeds": cfg.seeds,
                "forget": cfg.forget,
                "sweep": cfg.sweep,
                "methods": {
                    k: {"method": v.method, "options": v.options, "group": v.group}
                    for k, v in methods.items()
                },
                "machine": machine(),
                "git": git_hash(),
                "versions": versions(),
            }
        )
        write_yaml(layout.config, dataclasses.asdict(cfg))

        bench, bench_key = _bench_stage(cfg, stages, layout)
        for seed in cfg.seeds:
            s = SeedRun(cfg, stages, layout, seed, bench, bench_key)
            s.train()
            s.references()
            s.methods(methods)
            if seq is not None:
                Protocol(s, seq).run()

        rkey = key_of({s: v["key"] for s, v in stages.manifest["stages"].items() if s != "report"})
        reports = [layout.report(name) for name in REPORT_FILES]
        stages.run("report", rkey, reports, lambda: report(str(layout.root)))
        stages.manifest["times"] = {
            k: v.get("seconds") for k, v in stages.manifest["stages"].items()
        }
        stages.save()
        say(
            f"[run] done in {(time.monotonic() - stages.t0) / 60:.1f} min; "
            f"{len(stages.ran)} stage(s) ran; report: {layout.report('report.html')}"
        )
        return layout.report("report.html")


def demo(out: str = "runs") -> Path:
    """Run the shipped demo (``configs/run/demo.yaml``) on the built-in tiny model.

    Args:
        out: parent folder of the run folder (``<out>/demo``).
    """
    return run(str(shipped_config("run", "demo.yaml")), out=out)
