"""`smfa run` on the smoke config: every stage, the exact output files, caching, the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from smfa.paths import shipped_config

LABELS = [
    *("idk", "ga", "gd", "kl", "npo", "task_arithmetic", "ties", "manu", "model_tailor"),
    *("smfa", "smfa_c", "smfa_r"),
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from smfa.pipeline import run

    out = tmp_path_factory.mktemp("runs")
    run(str(shipped_config("run", "smoke.yaml")), out=str(out))
    return out / "smoke"


def test_exact_output_files(smoke_run):
    top = {p.name for p in smoke_run.iterdir()}
    assert top == {
        "bench",
        "config.yaml",
        "manifest.json",
        "original",
        "retain_only",
        "methods",
        "eval",
        "report.md",
        "report.html",
        "plots",
    }
    evals = {str(p.relative_to(smoke_run / "eval")) for p in (smoke_run / "eval").rglob("*.json")}
    assert evals == {f"{x}.json" for x in ["original", "retain_only", *LABELS]} | {
        "sweep/k_0.json",
        "sweep/k_5.json",
    }
    assert {p.name for p in (smoke_run / "methods").iterdir()} == {*LABELS, "sweep"}
    for label in LABELS:
        files = {p.name for p in (smoke_run / "methods" / label).iterdir()}
        assert {"delta.safetensors", "config.yaml", "summary.json"} <= files, label
    assert {p.name for p in (smoke_run / "plots").iterdir()} == {
        "k_sweep.png",
        "tradeoff.png",
        "mask_stats.png",
    }
    # no scratch folders or temporary files left behind
    assert not [p for p in smoke_run.rglob(".*")]


def test_report_contains_every_method(smoke_run):
    md = (smoke_run / "report.md").read_text()
    html = (smoke_run / "report.html").read_text()
    for label in [*LABELS, "original", "retain_only"]:
        assert label in md and label in html, label


def test_eval_json_is_complete(smoke_run):
    res = json.loads((smoke_run / "eval" / "smfa.json").read_text())
    assert res["forget"] == "forget10" and res["seed"] == 0 and res["versions"]["torch"]
    assert {r["split"] for r in res["records"]} == {
        "forget10",
        "retain",
        "unseen",
        "holdout",
        "scenes_eval",
    }
    main = res["summary"]["main"]["fact"]
    assert set(main) >= {
        "forget_und",
        "forget_mem",
        "retain_und",
        "retain_mem",
        "overall_mem",
        "meaningful",
        "model_utility",
    }
    assert res["summary"]["forget_quality"] is not None


def test_second_run_reuses_everything(smoke_run):
    from smfa.pipeline import run

    before = json.loads((smoke_run / "manifest.json").read_text())["stages"]
    run(str(shipped_config("run", "smoke.yaml")), out=str(smoke_run.parent))
    after = json.loads((smoke_run / "manifest.json").read_text())["stages"]
    assert after == before  # no stage ran again (keys and timings unchanged)


def test_changing_one_method_reruns_only_it(smoke_run, tmp_path):
    import shutil

    import yaml

    from smfa.pipeline import run

    cfg = yaml.safe_load(shipped_config("run", "smoke.yaml").read_text())
    cfg["methods"]["ga"]["options"] = {}
    cfg["methods"]["gd"]["options"] = {"retain_weight": 2.0}
    cfg["train_config"] = str(shipped_config("train", "smoke.yaml"))
    cfg["unlearn_config"] = str(shipped_config("unlearn", "smoke.yaml"))
    copy = tmp_path / "runs"
    shutil.copytree(smoke_run, copy / "smoke")
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    before = json.loads((copy / "smoke" / "manifest.json").read_text())["stages"]
    run(str(path), out=str(copy))
    after = json.loads((copy / "smoke" / "manifest.json").read_text())["stages"]
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"method gd", "eval gd", "report"}


def _copy_run(smoke_run, tmp_path, **changes):
    """A copy of the smoke run folder and a config file with ``changes`` applied."""
    import shutil

    cfg = yaml.safe_load(shipped_config("run", "smoke.yaml").read_text())
    cfg["train_config"] = str(shipped_config("train", "smoke.yaml"))
    cfg["unlearn_config"] = str(shipped_config("unlearn", "smoke.yaml"))
    cfg.update(changes)
    copy = tmp_path / "runs"
    shutil.copytree(smoke_run, copy / "smoke")
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path, copy / "smoke"


PLUGIN = '''
from smfa.methods.base import Method
from smfa.methods.streams import idk_streams, nll
from smfa.registry import METHODS


@METHODS.register("forgetful")
class Forgetful(Method):
    """Refusal tuning on the forget set and retain_few (a test plugin)."""

    main_stream = "train"

    def streams(self, ctx):
        return idk_streams(ctx)

    def loss(self, model, batches, ref):
        return nll(model, batches, ref)
'''


def test_a_method_in_a_new_module_runs_everywhere_without_editing_smfa(smoke_run, tmp_path):
    """One decorated class in a module of a temporary package ($SMFA_PLUGINS): it is in
    ``smfa unlearn --help``, runs in the smoke pipeline and shows in the report."""
    pkg = tmp_path / "plugins" / "myplug"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "forgetful.py").write_text(PLUGIN)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path / "plugins"), os.environ.get("PYTHONPATH", "")]),
        SMFA_PLUGINS="myplug",
        HF_HUB_OFFLINE="1",
        SMFA_QUIET="1",
    )

    def smfa(*args):
        return subprocess.run(
            [sys.executable, "-m", "smfa", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )

    res = smfa("unlearn", "--help")
    assert res.returncode == 0 and "forgetful" in res.stdout, res.stderr[-2000:]
    methods = {"idk": {"method": "idk"}, "forgetful": {"method": "forgetful"}}
    cfg, run_dir = _copy_run(smoke_run, tmp_path, methods=methods, sweep={})
    res = smfa("run", cfg, "--out", run_dir.parent)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (run_dir / "methods" / "forgetful" / "delta.safetensors").is_file()
    result = json.loads((run_dir / "eval" / "forgetful.json").read_text())
    assert result["summary"]["main"]["fact"]["forget_mem"] is not None
    md = (run_dir / "report.md").read_text()
    assert "| forgetful |" in md


def test_k_sweep_keeps_the_methods_other_options(smoke_run, tmp_path):
    """sweep.k re-sculpts with the main smfa method's criteria (here: R only), not the default."""
    import torch

    from smfa.io import load_safetensors
    from smfa.pipeline import run
    from smfa.stages.sculpt import sculpt

    methods = {"smfa": {"method": "smfa", "options": {"criteria": "r"}}}
    cfg, run_dir = _copy_run(smoke_run, tmp_path, methods=methods, sweep={"k": [5]})
    run(str(cfg), out=str(run_dir.parent))
    point = run_dir / "methods" / "sweep" / "k_5"
    layers = json.loads((point / "mask_stats.json").read_text())["layers"]
    assert layers and all(v["criteria"] == "r" and v["k"] == 5 for v in layers.values())
    adapters = run_dir / "methods" / "smfa" / "adapters"
    ref = sculpt(
        str(adapters / "mfa"), str(adapters / "anchor"), str(tmp_path / "ref"), k=5, criteria="r"
    )
    got, want = (load_safetensors(p / "delta.safetensors") for p in (point, ref))
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (Linux /proc)."""
    from pathlib import Path

    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd and int(p.name) != os.getpid():
                pids.append(int(p.name))
    return pids


def _wait(cond, timeout: float = 300.0, step: float = 0.2) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_during_training_eval_and_report_then_rerun(smoke_run, tmp_path):
    """SIGKILL of `smfa run` while training, while evaluating and at the report: no process is
    left behind, and the last rerun finishes with the same metrics as an uninterrupted run."""
    import signal

    cfg, run_dir = _copy_run(smoke_run, tmp_path)
    import shutil

    shutil.rmtree(run_dir)  # start from nothing
    out = run_dir.parent
    env = dict(os.environ, HF_HUB_OFFLINE="1", SMFA_QUIET="1")
    cmd = [sys.executable, "-m", "smfa", "run", str(cfg), "--out", str(out)]

    def stages() -> dict:
        try:
            return json.loads((run_dir / "manifest.json").read_text())["stages"]
        except (OSError, ValueError, KeyError):
            return {}

    def kill_when(cond) -> None:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert _wait(lambda: cond() or proc.poll() is not None), "condition never held"
            assert proc.poll() is None, "the run ended before the kill"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        assert _wait(lambda: not _processes_mentioning(str(run_dir)), timeout=30), (
            f"orphans: {_processes_mentioning(str(run_dir))}"
        )

    # 1. while both models train (the children exist and have started)
    kill_when(
        lambda: (
            len(_processes_mentioning(f"train {run_dir}")) >= 2
            or len(_processes_mentioning(str(run_dir / "bench"))) >= 2
        )
    )
    assert "original" not in stages()
    # 2. while evaluating (the reference evaluation is done, the next ones are running)
    kill_when(lambda: "eval retain_only" in stages())
    assert "report" not in stages()
    # 3. as the report starts (every evaluation is recorded)
    n_evals = sum(
        1
        for k in json.loads((smoke_run / "manifest.json").read_text())["stages"]
        if k.startswith("eval ")
    )
    kill_when(lambda: sum(1 for k in stages() if k.startswith("eval ")) >= n_evals)
    # 4. the rerun finishes, with the uninterrupted run's metrics
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (run_dir / "report.html").is_file()
    for ref in sorted((smoke_run / "eval").rglob("*.json")):
        got = json.loads((run_dir / "eval" / ref.relative_to(smoke_run / "eval")).read_text())
        want = json.loads(ref.read_text())
        assert got["summary"] == want["summary"] and got["records"] == want["records"], ref.name
    assert not _processes_mentioning(str(run_dir))


def test_sequential_protocol_on_the_smoke_run(smoke_run, tmp_path):
    """A ``sequential:`` section adds the protocol's stages only (the rest is cached), its
    summary and the report section."""
    from smfa.pipeline import run

    seq = {"requests": 2, "modes": ["resculpt", "all_at_once"]}
    path, copy = _copy_run(smoke_run, tmp_path, sequential=seq)
    before = json.loads((copy / "manifest.json").read_text())["stages"]
    run(str(path), out=str(copy.parent))
    after = json.loads((copy / "manifest.json").read_text())["stages"]
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"report", *[k for k in after if "sequential" in k]}
    assert len(changed) == 1 + 2 * 2 * 2 + 1
    summary = json.loads((copy / "sequential" / "summary.json").read_text())
    assert [sorted(p for r in summary["requests"] for p in r)] == [
        sorted({json.loads(x)["subject_id"] for x in open(copy / "bench/data/forget10.jsonl")})
    ]
    assert {m: [s["n"] for s in v] for m, v in summary["modes"].items()} == {
        "resculpt": [1, 2],
        "all_at_once": [1, 2],
    }
    assert "Deletion requests over time" in (copy / "report.md").read_text()
    assert (copy / "plots" / "sequential.png").is_file()


def test_attacks_stage_runs_cached_and_reaches_the_report(smoke_run, tmp_path):
    """`attacks:` in the run config: the suite on the control, the original and every method
    (the control's JSON computed once), cached like the other stages, then the report's
    attack table and plot."""
    from smfa.pipeline import run

    methods = {"idk": {"method": "idk"}, "smfa": {"method": "smfa"}}
    attacks = {"attacks": ["paraphrase", "quant_4bit", "mia"], "max_questions": 6}
    cfg, run_dir = _copy_run(smoke_run, tmp_path, methods=methods, sweep={}, attacks=attacks)
    run(str(cfg), out=str(run_dir.parent))
    files = {p.name for p in (run_dir / "attacks").iterdir()}
    assert files == {"retain_only.json", "original.json", "idk.json", "smfa.json"}
    res = json.loads((run_dir / "attacks" / "smfa.json").read_text())
    assert res["attacks"] == attacks["attacks"] and res["questions"] == 6
    assert (
        res["results"]["control"]
        == json.loads((run_dir / "attacks" / "retain_only.json").read_text())["results"]["model"]
    )
    stages = json.loads((run_dir / "manifest.json").read_text())["stages"]
    assert {"attack retain_only", "attack original", "attack idk", "attack smfa"} <= set(stages)
    md = (run_dir / "report.md").read_text()
    assert "## Robustness of forgetting" in md and "| *retain_only* |" in md
    assert res["unattacked"]["control"]["n"] == 6
    assert md.index("| *retain_only* |", md.index("Robustness")) < md.index(
        "| smfa |", md.index("Robustness")
    )
    assert (run_dir / "plots" / "attacks.png").is_file()
    run(str(cfg), out=str(run_dir.parent))
    assert json.loads((run_dir / "manifest.json").read_text())["stages"] == stages  # cached
