"""``smfa run CONFIG.yaml``: bench → original → retain-only → methods → eval → report.

Stages are cached: each records in ``manifest.json`` the hash of everything it depends on (its
settings and the hashes of the stages it reads), and a stage whose hash and outputs are already
there is skipped. Changing one method's options reruns that method and its evaluation only; an
interrupted run resumes (training stages from their last checkpoint). The original and the
retain-only model train side by side, one CPU thread each (NOTES: about the time of one).

Run folder (SPEC §8): ``config.yaml manifest.json bench/ original/ retain_only/ methods/<label>/
eval/<label>.json eval/sweep/k_<k>.json report.md report.html plots/``; with several seeds the
training, method and eval folders move under ``seed_<s>/``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from smfa.errors import SmfaError
from smfa.io import read_json, read_yaml, sha256_bytes, write_json, write_yaml
from smfa.paths import shipped_config
from smfa.progress import bar, say

DEFAULT_METHODS = {
    "idk": {"method": "idk"},
    "ga": {"method": "ga"},
    "gd": {"method": "gd"},
    "kl": {"method": "kl"},
    "npo": {"method": "npo"},
    "task_arithmetic": {"method": "task_arithmetic"},
    "ties": {"method": "ties"},
    "smfa": {"method": "smfa"},
    "smfa_c": {"method": "smfa", "options": {"criteria": "c"}, "group": "ablation"},
    "smfa_r": {"method": "smfa", "options": {"criteria": "r"}, "group": "ablation"},
}
SHARED = ("smfa", "idk", "ties")  # can reuse one trained MFA + RA


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
        methods: ``{label: {method, options, config, group}}``; group main or ablation.
        unlearn_config: unlearning config YAML for every method (default: shipped, per method).
        sweep: ``{"k": [...]}`` re-sculpts the smfa adapters at each k (no retraining).
        eval: ``smfa eval`` settings (max_samples, batch_size, judge, max_new_tokens, ...).
        parallel_train: train original and retain-only side by side (1 thread each).
    """

    name: str = "run"
    out: str = "runs"
    bench: dict = field(default_factory=dict)
    bench_dir: str | None = None
    model: str = "tiny"
    train_config: str | None = None
    forget: str = "forget10"
    seeds: list = field(default_factory=lambda: [0])
    methods: dict = field(default_factory=lambda: dict(DEFAULT_METHODS))
    unlearn_config: str | None = None
    sweep: dict = field(default_factory=dict)
    eval: dict = field(default_factory=dict)
    parallel_train: bool = True

    def __post_init__(self):
        if self.forget not in ("forget05", "forget10", "forget15"):
            raise ValueError(f"forget={self.forget!r}: forget05, forget10 or forget15")
        if not self.seeds or not all(isinstance(s, int) for s in self.seeds):
            raise ValueError(f"seeds={self.seeds!r}: a non-empty list of integers")
        for label, m in self.methods.items():
            if not isinstance(m, dict):
                raise ValueError(f"methods.{label}: expected a mapping")
            unknown = set(m) - {"method", "options", "config", "group", "retain_few"}
            if unknown:
                raise ValueError(f"methods.{label}: unknown field '{sorted(unknown)[0]}'")
            if m.get("group", "main") not in ("main", "ablation"):
                raise ValueError(f"methods.{label}.group={m['group']!r}: main or ablation")
        unknown = set(self.sweep) - {"k"}
        if unknown:
            raise ValueError(f"sweep: unknown field '{sorted(unknown)[0]}' (known: k)")
        if any(not (isinstance(k, (int, float)) and k >= 0) for k in self.sweep.get("k", [])):
            raise ValueError(f"sweep.k={self.sweep['k']!r}: every k must be a number >= 0")


def load_run_config(path: str | Path) -> RunConfig:
    data = read_yaml(path) or {}
    names = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SmfaError(f"{path}: unknown field '{unknown[0]}'")
    try:
        cfg = RunConfig(**data)
    except (TypeError, ValueError) as e:
        raise SmfaError(f"{path}: {e}") from None
    # Paths inside a config are relative to the config file when they exist there.
    here = Path(path).resolve().parent
    rel = lambda p: str(here / p) if p and not Path(p).is_absolute() and (here / p).exists() else p  # noqa: E731
    cfg.train_config, cfg.unlearn_config, cfg.bench_dir = (
        rel(cfg.train_config),
        rel(cfg.unlearn_config),
        rel(cfg.bench_dir),
    )
    for spec in cfg.methods.values():
        if spec.get("config"):
            spec["config"] = rel(spec["config"])
    return cfg


def _hash(obj) -> str:
    return sha256_bytes(json.dumps(obj, sort_keys=True, default=str).encode())[:16]


def _file_hash(path: Path) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    from smfa.io import sha256_file

    return sha256_file(path)[:16]


class Stages:
    """Runs named stages once: a stage is skipped when its key and outputs are recorded."""

    def __init__(self, root: Path, manifest: dict, total: int):
        self.root, self.manifest, self.n, self.total = root, manifest, 0, total
        self.t0 = time.monotonic()
        self.ran: list[str] = []

    def done(self, name: str, key: str, outputs: list[Path]) -> bool:
        rec = self.manifest["stages"].get(name)
        return bool(rec and rec["key"] == key and all(Path(o).exists() for o in outputs))

    def run(self, name: str, key: str, outputs: list[Path], fn) -> bool:
        self.n += 1
        if self.done(name, key, outputs):
            return False
        elapsed = time.monotonic() - self.t0
        say(f"[{self.n}/{self.total}] {name}  (elapsed {elapsed / 60:.1f} min)")
        t = time.monotonic()
        fn()
        self.manifest["stages"][name] = {
            "key": key,
            "outputs": [str(o) for o in outputs],
            "seconds": round(time.monotonic() - t, 2),
        }
        self.ran.append(name)
        write_json(self.root / "manifest.json", self.manifest)
        return True

    def key(self, name: str) -> str:
        return self.manifest["stages"].get(name, {}).get("key", "")


def _train_cmd(bench: Path, out: Path, cfg: RunConfig, exclude: str | None, seed: int):
    cmd = [
        sys.executable,
        "-m",
        "smfa",
        "--quiet",
        "train",
        str(bench),
        str(out),
        "--model",
        cfg.model,
        "--seed",
        str(seed),
    ]
    if exclude:
        cmd += ["--exclude", exclude]
    if cfg.train_config:
        cmd += ["--train_config", cfg.train_config]
    return cmd


def _train_models(jobs: list[tuple[str, list[str], Path]], parallel: bool) -> None:
    """Train models in subprocesses (side by side, one thread each, when ``parallel``)."""
    from smfa.runtime import work_dir_for

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
            fracs = []
            for _, _, out in procs:
                prog = work_dir_for(out) / "progress.json"
                try:
                    d = json.loads(prog.read_text())
                    fracs.append(d["step"] / d["total"])
                except (OSError, ValueError, KeyError):
                    fracs.append(1.0 if (out / "config.json").is_file() else 0.0)
            pbar.n = int(100 * min(fracs))
            pbar.refresh()
            time.sleep(1.0)
        pbar.close()
        for name, p, _ in procs:
            err = p.stderr.read()
            if p.returncode != 0:
                last = [x for x in err.strip().splitlines() if x.strip()][-1:] or ["failed"]
                raise SmfaError(f"stage {name}: {last[0]}")


def run(config_file: str, only: list[str] | None = None, out: str | None = None) -> Path:
    """Run (or resume) a whole experiment from a YAML config; finished stages are skipped.

    Args:
        config_file: run config YAML (see ``configs/run/demo.yaml``).
        only: restrict to these method labels (default: all in the config).
        out: parent folder of the run folder (overrides the config's ``out``).
    """
    from smfa import bench as benchmod
    from smfa.eval.evaluate import evaluate
    from smfa.provenance import git_hash, machine, versions
    from smfa.report import report
    from smfa.sculpt_stage import sculpt
    from smfa.unlearn import unlearn

    config = config_file
    cfg = load_run_config(config)
    if out is not None:
        cfg.out = out
    root = Path(cfg.out) / cfg.name
    root.mkdir(parents=True, exist_ok=True)
    mpath = root / "manifest.json"
    manifest = read_json(mpath) if mpath.is_file() else {"stages": {}}
    methods = {k: v for k, v in cfg.methods.items() if not only or k in only}
    ks = list(cfg.sweep.get("k", []))
    per_seed = 2 + 2 + 2 * len(methods) + 2 * len(ks)
    stages = Stages(root, manifest, 1 + per_seed * len(cfg.seeds) + 1)
    manifest.update(
        {
            "name": cfg.name,
            "config_file": str(Path(config).resolve()),
            "seeds": cfg.seeds,
            "forget": cfg.forget,
            "sweep": cfg.sweep,
            "methods": {
                k: {
                    "method": v.get("method", k),
                    "options": v.get("options", {}),
                    "group": v.get("group", "main"),
                }
                for k, v in methods.items()
            },
            "machine": machine(),
            "git": git_hash(),
            "versions": versions(),
        }
    )
    write_yaml(root / "config.yaml", dataclasses.asdict(cfg))

    # -- bench ------------------------------------------------------------------------------
    if cfg.bench_dir:
        bench = Path(cfg.bench_dir)
        bkey = _hash({"bench_dir": str(bench.resolve()), "m": _file_hash(bench / "manifest.json")})
        stages.run("bench", bkey, [bench / "manifest.json"], lambda: benchmod.load(bench))
    else:
        bench = root / "bench"
        bkey = _hash({"bench": cfg.bench})
        stages.run(
            "bench",
            bkey,
            [bench / "manifest.json"],
            lambda: benchmod.build(str(bench), **cfg.bench),
        )
    bkey = _hash({"bench": bkey, "manifest": _file_hash(bench / "manifest.json")})

    train_cfg_hash = (
        _file_hash(Path(cfg.train_config))
        if cfg.train_config
        else _file_hash(
            shipped_config("train", "tiny.yaml" if cfg.model == "tiny" else "real.yaml")
        )
    )
    for seed in cfg.seeds:
        sroot = root if len(cfg.seeds) == 1 else root / f"seed_{seed}"
        _run_seed(
            cfg,
            stages,
            sroot,
            bench,
            bkey,
            train_cfg_hash,
            seed,
            methods,
            ks,
            evaluate,
            unlearn,
            sculpt,
        )

    rkey = _hash({s: v["key"] for s, v in manifest["stages"].items() if s != "report"})
    stages.run("report", rkey, [root / "report.html"], lambda: report(str(root)))
    manifest["times"] = {k: v.get("seconds") for k, v in manifest["stages"].items()}
    write_json(mpath, manifest)
    say(
        f"[run] done in {(time.monotonic() - stages.t0) / 60:.1f} min; "
        f"{len(stages.ran)} stage(s) ran; report: {root / 'report.html'}"
    )
    return root / "report.html"


def _run_seed(
    cfg, stages, sroot, bench, bkey, train_cfg_hash, seed, methods, ks, evaluate, unlearn, sculpt
):
    tag = "" if sroot.name != f"seed_{seed}" else f"seed_{seed}/"
    orig, ronly = sroot / "original", sroot / "retain_only"
    okey = _hash({"bench": bkey, "model": cfg.model, "train": train_cfg_hash, "seed": seed})
    rkey = _hash({"orig": okey, "exclude": cfg.forget})
    jobs = []
    if not stages.done(f"{tag}original", okey, [orig / "config.json"]):
        jobs.append((f"{tag}original", _train_cmd(bench, orig, cfg, None, seed), orig))
    if not stages.done(f"{tag}retain_only", rkey, [ronly / "config.json"]):
        jobs.append((f"{tag}retain_only", _train_cmd(bench, ronly, cfg, cfg.forget, seed), ronly))
    if jobs:
        say(
            f"training {' and '.join(n for n, _, _ in jobs)}"
            f"{' side by side' if cfg.parallel_train and len(jobs) > 1 else ''}"
        )
        _train_models(jobs, cfg.parallel_train)
    stages.run(f"{tag}original", okey, [orig / "config.json"], lambda: None)
    stages.run(f"{tag}retain_only", rkey, [ronly / "config.json"], lambda: None)

    ev = dict(cfg.eval)
    ev_hash = _hash(ev)
    ev_dir = sroot / "eval"
    ref = ev_dir / "retain_only.json"
    ref_key = _hash({"m": rkey, "eval": ev_hash})
    stages.run(
        f"{tag}eval retain_only",
        ref_key,
        [ref],
        lambda: evaluate(str(ronly), str(bench), str(ref), forget=cfg.forget, seed=seed, **ev),
    )
    stages.run(
        f"{tag}eval original",
        _hash({"m": okey, "eval": ev_hash, "ref": ref_key}),
        [ev_dir / "original.json"],
        lambda: evaluate(
            str(orig),
            str(bench),
            str(ev_dir / "original.json"),
            forget=cfg.forget,
            reference=str(ref),
            seed=seed,
            **ev,
        ),
    )

    shared_dir, shared = None, None
    order = sorted(methods, key=lambda lb: (methods[lb].get("method", lb) != "smfa", lb))
    for label in order:
        spec = methods[label]
        name = spec.get("method", label)
        mdir = sroot / "methods" / label
        ucfg = spec.get("config") or cfg.unlearn_config
        opts = dict(spec.get("options") or {})
        reuse = None
        if name in SHARED and shared_dir is not None:
            # Reuse smfa's MFA/RA only when this method would train them identically.
            if _train_settings(name, orig, ucfg, spec) == _train_settings("smfa", orig, *shared):
                reuse = shared_dir
        mkey = _hash(
            {
                "orig": okey,
                "method": name,
                "options": opts,
                "forget": cfg.forget,
                "config": _file_hash(Path(ucfg)) if ucfg else name,
                "seed": seed,
                "retain_few": spec.get("retain_few"),
                "reuse": stages.key(f"{tag}method {reuse.name}") if reuse else None,
            }
        )
        stages.run(
            f"{tag}method {label}",
            mkey,
            [mdir / "delta.safetensors"],
            partial(
                unlearn,
                name,
                str(orig),
                str(bench),
                str(mdir),
                forget=cfg.forget,
                method_config=ucfg,
                seed=seed,
                retain_few=spec.get("retain_few"),
                options=opts,
                adapters_from=str(reuse) if reuse else None,
            ),
        )
        if name == "smfa" and shared_dir is None and (mdir / "adapters" / "mfa").is_dir():
            shared_dir, shared = mdir, (ucfg, spec)
        stages.run(
            f"{tag}eval {label}",
            _hash({"m": mkey, "eval": ev_hash, "ref": ref_key}),
            [ev_dir / f"{label}.json"],
            partial(
                evaluate,
                str(orig),
                str(bench),
                str(ev_dir / f"{label}.json"),
                adapter=str(mdir),
                forget=cfg.forget,
                reference=str(ref),
                seed=seed,
                **ev,
            ),
        )

    for k in ks:
        if shared_dir is None:
            raise SmfaError("sweep.k needs an smfa method with mfa_views joint in 'methods'")
        kname = "inf" if math.isinf(k) else f"{k:g}"
        kdir = sroot / "methods" / "sweep" / f"k_{kname}"
        skey = _hash({"shared": stages.key(f"{tag}method {shared_dir.name}"), "k": k})
        stages.run(
            f"{tag}sculpt k={kname}",
            skey,
            [kdir / "delta.safetensors"],
            partial(
                sculpt,
                [str(shared_dir / "adapters" / "mfa")],
                str(shared_dir / "adapters" / "anchor"),
                str(kdir),
                k=k,
            ),
        )
        out = ev_dir / "sweep" / f"k_{kname}.json"
        stages.run(
            f"{tag}eval k={kname}",
            _hash({"m": skey, "eval": ev_hash, "ref": ref_key}),
            [out],
            partial(
                evaluate,
                str(orig),
                str(bench),
                str(out),
                adapter=str(kdir),
                forget=cfg.forget,
                reference=str(ref),
                seed=seed,
                **ev,
            ),
        )


def _train_settings(method: str, orig: Path, ucfg: str | None, spec: dict) -> tuple:
    """What decides the adapters a method trains: its resolved train section and retain_few."""
    from smfa.unlearn import default_config_path

    path = Path(ucfg) if ucfg else default_config_path(method, orig)
    data = read_yaml(path) or {}
    return (
        json.dumps(data.get("train"), sort_keys=True),
        spec.get("retain_few", data.get("retain_few")),
    )


def demo(out: str = "runs") -> Path:
    """Run the shipped demo (``configs/run/demo.yaml``) on the built-in tiny model.

    Args:
        out: parent folder of the run folder (``<out>/demo``).
    """
    return run(str(shipped_config("run", "demo.yaml")), out=out)
