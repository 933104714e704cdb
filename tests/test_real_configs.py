"""The shipped configs of the 7B-class models parse, say what the paper and docs say, and the
``dtype`` they carry reaches the model."""

from __future__ import annotations

import json

import pytest
import yaml

from smfa.paths import shipped_config

MODELS = [
    "llava-1.5-7b",
    "llava-onevision-7b",
    "qwen2.5-vl-7b",
    "idefics3-8b",
    "smolvlm",
    "gemma-3-4b",
    "gemma-3-12b",
]


@pytest.mark.parametrize("name", MODELS)
def test_train_config(name):
    from smfa.stages.train_original import load_original_config

    path = shipped_config("train", f"{name}.yaml")
    cfg = load_original_config(str(path), tiny=False)
    assert cfg.dtype == "bfloat16" and not cfg.train.full_finetune
    lora = cfg.train.lora
    assert (lora.r, lora.alpha, lora.dropout, lora.target) == (64, 128, 0.05, "language")


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("method", ["smfa", "idk"])
def test_unlearn_config_has_the_papers_settings(name, method):
    from smfa.stages.unlearn import resolve_settings

    path = shipped_config("unlearn", f"{name}.yaml")
    s = resolve_settings(method, False, str(path))
    t = s.train
    assert s.dtype == "bfloat16"
    assert (t.lora.r, t.lora.alpha, t.lora.dropout, t.lora.target) == (16, 16, 0.05, "language")
    assert (t.lr, t.epochs, t.batch_size, t.full_finetune) == (1e-4, 5, 2, False)
    if method == "smfa":
        assert s.options.k == 5


def test_config_dtype_reaches_the_model(tmp_path):
    """`smfa train` without --dtype trains and saves in the train config's dtype."""
    from tiny_families import SMOKE_BENCH, build_llava15

    from smfa.bench import build, load
    from smfa.stages.train_original import corpus_texts, train_original

    small_bench = build(tmp_path / "bench", **SMOKE_BENCH)
    model = build_llava15(tmp_path / "base", corpus=corpus_texts(load(small_bench)))
    cfg = {
        "dtype": "bfloat16",
        "train": {"max_steps": 1, "batch_size": 4, "lora": {"r": 2, "alpha": 4}},
    }
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(cfg))
    out = train_original(
        str(small_bench), str(tmp_path / "o"), str(model), train_config=str(tmp_path / "t.yaml")
    )
    assert yaml.safe_load((out / "config.yaml").read_text())["dtype"] == "bfloat16"
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
