"""The sequential-requests protocol of ``smfa run`` (the ``sequential:`` section; docs/ledger.md).

The run's forget set is dealt into ``requests`` deletion requests. For each composition mode a
ledger on the original model takes them one at a time; after each one the composed model is
evaluated on the forget set (every request's profiles: rebound of the earlier ones), on
retain and on scenes. Modes:

- ``independent``: each request trained on the base, deltas summed;
- ``resculpt``: the independent ledger's adapters re-sculpted against the earlier requests
  (no training: the same MFA and anchor, only the masks change);
- ``sequential``: each request trained on the current model;
- ``all_at_once``: after ``n`` requests, requests 1..n unlearned together from the base (the
  reference: what forgetting everything at once gives).

Everything lands under ``<run>/sequential/``; ``summary.json`` holds the per-step figures
(:func:`smfa.ledger.protocol.step_rows`) that the report plots.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from smfa.errors import SmfaError

MODES = ("independent", "resculpt", "sequential", "all_at_once")
EVAL_SPLITS = ["forget", "retain", "scenes_eval"]


@dataclass
class SequentialConfig:
    """The ``sequential:`` section of a run config.

    Attributes:
        requests: how many deletion requests the forget set is dealt into (>= 2).
        modes: which of independent, resculpt, sequential, all_at_once to measure.
        method: the unlearning method of every request (smfa; resculpt needs smfa).
        options: the method's options (default: its config's).
        config: unlearning config YAML (default: the run's unlearn_config, else shipped).
        eval: ``smfa eval`` settings of the protocol's evaluations (default: the run's eval,
            only forget, retain and scenes, no log-likelihood metrics).
    """

    requests: int = 4
    modes: list = field(default_factory=lambda: list(MODES))
    method: str = "smfa"
    options: dict = field(default_factory=dict)
    config: str | None = None
    eval: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.requests, bool) or not isinstance(self.requests, int):
            raise ValueError(f"requests={self.requests!r}: expected an integer")
        if self.requests < 2:
            raise ValueError(f"requests={self.requests}: must be >= 2")
        if not isinstance(self.modes, list) or not self.modes:
            raise ValueError(f"modes={self.modes!r}: a non-empty list")
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise ValueError(f"modes: unknown mode {bad[0]!r} (known: {', '.join(MODES)})")
        if "resculpt" in self.modes and self.method != "smfa":
            raise ValueError(f"method={self.method!r}: mode resculpt needs smfa")
        if not isinstance(self.options, dict) or not isinstance(self.eval, dict):
            raise ValueError("options and eval: expected mappings")


def check_sequential(cfg, bench_profiles: set[str] | None = None) -> SequentialConfig | None:
    """The run's ``sequential:`` section, typed and checked (method, options, eval keys)."""
    from smfa.config import from_dict
    from smfa.stages.unlearn import resolve_settings

    if not cfg.sequential:
        return None
    try:
        sc = from_dict(SequentialConfig, dict(cfg.sequential), "sequential")
    except (TypeError, ValueError) as e:
        raise SmfaError(f"sequential: {e}") from None
    try:
        s = resolve_settings(
            sc.method, cfg.model == "tiny", sc.config or cfg.unlearn_config, sc.options
        )
    except SmfaError as e:
        raise SmfaError(f"sequential: {e}") from None
    if "resculpt" in sc.modes and s.options.mfa_views != "joint":
        raise SmfaError("sequential.options: mode resculpt needs mfa_views joint")
    return sc


class Protocol:
    """The protocol's stages for one seed (``SeedRun`` supplies models, bench and cache)."""

    def __init__(self, seed_run, sc: SequentialConfig):
        self.s, self.sc = seed_run, sc
        self.root = seed_run.paths.root / "sequential"
        cfg = seed_run.cfg
        self.eval_settings = {
            **cfg.eval,
            "logprob_metrics": False,
            **sc.eval,
            "splits": EVAL_SPLITS,
        }

    # -- pieces --------------------------------------------------------------------------------
    def requests(self) -> list[list[str]]:
        from smfa.bench import load
        from smfa.ledger.protocol import split_requests

        b = load(str(self.s.bench))
        ids = {r["subject_id"] for r in b.split(self.s.cfg.forget)}
        try:
            return split_requests(sorted(ids), self.sc.requests, self.s.seed)
        except ValueError as e:
            raise SmfaError(f"sequential: {e}") from None

    def add_kwargs(self) -> dict:
        return {
            "method": self.sc.method,
            "method_config": self.sc.config or self.s.cfg.unlearn_config,
            "options": self.sc.options or None,
            "seed": self.s.seed,
        }

    def ledger_to(self, folder: Path, mode: str, reqs: list[list[str]], key: str) -> Path:
        """A ledger holding exactly ``reqs`` (in order), reusing what an earlier call left."""
        from smfa.ledger.store import load_state
        from smfa.stages import ledger as L

        led = folder / "ledger"
        stamp = folder / "key.txt"
        fresh = not (
            stamp.is_file() and stamp.read_text() == key and (led / "ledger.jsonl").is_file()
        )
        have = [] if fresh else [r.profiles for r in load_state(led).active]
        if fresh or have != reqs[: len(have)] or len(have) > len(reqs):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            L.init(
                str(self.s.paths.original),
                str(led),
                bench=str(self.s.bench),
                mode="sequential" if mode == "sequential" else "independent",
                who="smfa run",
            )
            stamp.write_text(key)
            have = []
        for req in reqs[len(have) :]:
            L.add(
                str(led),
                ",".join(req),
                who="smfa run",
                reason=f"protocol {mode}",
                **self.add_kwargs(),
            )
        return led

    def build_step(self, mode: str, n: int, reqs, key: str) -> Path:
        from smfa.stages import ledger as L

        out = self.root / mode / f"step_{n}"
        if mode in ("independent", "sequential"):
            led = self.ledger_to(self.root / "ledgers" / mode, mode, reqs[:n], key)
            L.build(str(led), str(out), overwrite=True)
        elif mode == "resculpt":
            self.resculpt_step(reqs, n, key, out)
        else:  # all at once: one request of everything so far
            merged = [sorted({p for r in reqs[:n] for p in r})]
            led = self.ledger_to(self.root / "ledgers" / f"{mode}_{n}", mode, merged, key)
            L.build(str(led), str(out), overwrite=True)
        return out

    def resculpt_step(self, reqs, n: int, key: str, out: Path) -> None:
        """The independent ledger's first ``n`` requests, re-sculpted against the earlier ones
        (the same adapters a resculpt ledger would train: same base, data and seed)."""
        import copy

        from smfa.adapters import write_delta
        from smfa.io import staged_dir, write_json
        from smfa.ledger.build import composed
        from smfa.ledger.store import load_state

        led = self.ledger_to(self.root / "ledgers" / "independent", "independent", reqs[:n], key)
        state = copy.deepcopy(load_state(led))
        state.init["resculpt"] = True
        delta = composed(led, state, n)
        with staged_dir(out, "ledger-build", True) as tmp:
            write_delta(tmp, delta, "ledger")
            write_json(tmp / "ledger.json", {"ledger": str(led), "resculpt": True, "n": n})

    # -- the stages ----------------------------------------------------------------------------
    def run(self) -> None:
        from smfa.io import write_json
        from smfa.pipeline.cache import key_of
        from smfa.stages.evaluate import evaluate

        s, sc = self.s, self.sc
        reqs = self.requests()
        base_key = key_of(
            {"orig": s.orig_key, "seq": dataclasses.asdict(sc), "run_unlearn": s.cfg.unlearn_config}
        )
        evals: dict[str, list[Path]] = {}
        for mode in sc.modes:
            evals[mode] = []
            for n in range(1, len(reqs) + 1):
                key = key_of({"base": base_key, "mode": mode, "n": n, "reqs": reqs[:n]})
                out = self.root / mode / f"step_{n}"
                s.stages.run(
                    f"{s.tag}sequential {mode} step {n}",
                    key,
                    [out / "delta.safetensors"],
                    partial(self.build_step, mode, n, reqs, base_key),
                )
                ev = self.root / "eval" / mode / f"step_{n}.json"
                s.stages.run(
                    f"{s.tag}eval sequential {mode} step {n}",
                    key_of({"m": key, "eval": self.eval_settings}),
                    [ev],
                    partial(
                        evaluate,
                        str(s.paths.original),
                        str(s.bench),
                        str(ev),
                        adapter=str(out),
                        forget=s.cfg.forget,
                        seed=s.seed,
                        overwrite=True,
                        **self.eval_settings,
                    ),
                )
                evals[mode].append(ev)
        base_ev = self.root / "eval" / "base.json"
        s.stages.run(
            f"{s.tag}eval sequential base",
            key_of({"m": s.orig_key, "eval": self.eval_settings}),
            [base_ev],
            partial(
                evaluate,
                str(s.paths.original),
                str(s.bench),
                str(base_ev),
                forget=s.cfg.forget,
                seed=s.seed,
                overwrite=True,
                **self.eval_settings,
            ),
        )
        write_json(self.root / "summary.json", summary(reqs, evals, base_ev, s.cfg.forget, sc))


def summary(reqs, evals: dict[str, list[Path]], base_ev: Path, forget: str, sc) -> dict:
    """``sequential/summary.json``: the requests, the base's facts, and per mode the step rows."""
    from smfa.io import read_json
    from smfa.ledger.protocol import request_facts, step_rows

    def facts_and_utility(path: Path):
        data = read_json(path)
        fact = data["summary"]["main"].get("fact", {})
        return request_facts(data["records"], reqs, forget), fact

    base_facts, base_util = facts_and_utility(base_ev)
    modes = {}
    for mode, paths in evals.items():
        fu = [facts_and_utility(p) for p in paths]
        modes[mode] = step_rows([f for f, _ in fu], [u for _, u in fu])
    return {
        "requests": reqs,
        "forget": forget,
        "method": sc.method,
        "options": sc.options,
        "base": {
            "per_request": base_facts,
            **{k: base_util.get(k) for k in ("retain_mem", "scenes", "model_utility")},
        },
        "modes": modes,
    }


def protocol_stage_count(sc: SequentialConfig | None) -> int:
    return 0 if sc is None else 2 * sc.requests * len(sc.modes) + 1
