"""The whole smoke pipeline on five real model families, tiny and random (no download).

Each family is built from its real config class with narrow widths and 2-3 layers
(``tests/tiny_families.py``), with its real processor class and chat template, over the words
of one shared tiny benchmark. ``smfa run`` then trains the original and retain-only models
(LoRA on the language model, merged), unlearns with smfa and idk, re-sculpts at another k,
evaluates every model and writes the report. Shapes and sizes are smoke-test small: this checks
that every stage runs on every family, not what the numbers are (docs/real-models.md).
"""

from __future__ import annotations

import json
import re

import pytest
from safetensors import safe_open
from tiny_families import FAMILIES, run_smoke, smoke_setup

LANGUAGE_PROJ = re.compile(r"\.layers\.[01]\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj\.weight$")
VISION = re.compile(r"vision|visual|projector|connector")


@pytest.fixture(scope="module")
def family_setup(tmp_path_factory):
    """One tiny benchmark shared by every family, and the train/unlearn configs."""
    return smoke_setup(tmp_path_factory.mktemp("families"))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_smoke_pipeline(family, family_setup):
    root, bench, corpus = family_setup
    model = FAMILIES[family](root / "models" / family, corpus=corpus)
    out = run_smoke(family, model, root, bench)
    splits = {"forget10", "retain", "unseen", "holdout", "scenes_eval"}
    for label in ("original", "retain_only", "idk", "smfa", "sweep/k_0"):
        res = json.loads((out / "eval" / f"{label}.json").read_text())
        assert {r["split"] for r in res["records"]} == splits, label
        assert all(isinstance(r["answer"], str) for r in res["records"]), label
        assert res["summary"]["main"]["fact"]["meaningful"] is not None, label
    # LoRA went to every attention/MLP projection of the language model, nothing else
    layers = json.loads((out / "methods" / "smfa" / "mask_stats.json").read_text())["layers"]
    assert len(layers) == 7 * 2
    for name in layers:
        assert LANGUAGE_PROJ.search(name) and not VISION.search(name), name
    with safe_open(out / "methods" / "idk" / "delta.safetensors", "pt") as f:
        assert set(f.keys()) == set(layers)
    # sculpting: k = 0 deletes exactly the conflicting entries, k = 5 a subset of them
    k0 = json.loads((out / "methods/sweep/k_0/mask_stats.json").read_text())["layers"]
    for name, st in layers.items():
        assert k0[name]["masked"] == k0[name]["conflict"] >= st["masked"], name
    report = (out / "report.md").read_text()
    assert "smfa" in report and "idk" in report and "retain_only" in report
    # the merged original is still a model of its family
    saved = json.loads((out / "original" / "config.json").read_text())
    assert saved["model_type"] == json.loads((model / "config.json").read_text())["model_type"]
