"""`smfa run` on the smoke config: every stage, the exact output files, caching, the report."""

from __future__ import annotations

import json

import pytest

from smfa.paths import shipped_config

LABELS = ["idk", "ga", "gd", "kl", "npo", "task_arithmetic", "ties", "smfa", "smfa_c", "smfa_r"]


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
