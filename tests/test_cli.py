"""The command line: user errors print one line naming the file/field and exit with code 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ENV = dict(os.environ, HF_HUB_OFFLINE="1", SMFA_QUIET="1")


def smfa(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "smfa", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, res.stderr[-2000:]
    for n in needles:
        assert n in lines[0], lines[0]


def test_help_lists_every_stage():
    res = smfa("--help")
    assert res.returncode == 0
    for cmd in (
        "bench",
        "train",
        "unlearn",
        "sculpt",
        "eval",
        "attack",
        "run",
        "demo",
        "report",
        "export",
        "ledger",
    ):
        assert cmd in res.stdout


def test_train_wrong_model_path(small_bench, tmp_path):
    res = smfa("train", small_bench, tmp_path / "out", "--model", tmp_path / "nope")
    assert_one_line_error(res, str(tmp_path / "nope"))
    assert not (tmp_path / "out").exists()


def test_train_text_only_model_with_image_questions(small_bench, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "llama")
    res = smfa("train", small_bench, tmp_path / "out", "--model", tmp_path / "llama")
    assert_one_line_error(res, str(tmp_path / "llama"))
    assert not (tmp_path / "out").exists()


def test_train_on_a_bench_that_fails_validation(small_bench, tmp_path):
    bad = tmp_path / "bench"
    shutil.copytree(small_bench, bad)
    next((bad / "images" / "faces").glob("*.png")).unlink()
    res = smfa("train", bad, tmp_path / "out")
    assert_one_line_error(res, "benchmark fails validation", "images/faces")
    assert not (tmp_path / "out").exists()


def test_bench_validate_reports_each_problem(small_bench, tmp_path):
    bad = tmp_path / "bench"
    shutil.copytree(small_bench, bad)
    next((bad / "images" / "scenes").glob("*.png")).write_bytes(b"not a png")
    res = smfa("bench", "validate", bad)
    assert res.returncode == 2
    assert "images/scenes" in res.stderr


def test_unlearn_negative_k(tiny_original, small_bench, tmp_path):
    res = smfa("unlearn", "smfa", tiny_original, small_bench, tmp_path / "out", "--k", "-1")
    assert_one_line_error(res, "k=-1")
    assert not (tmp_path / "out").exists()


def test_unlearn_unknown_method_and_bad_forget_split(tiny_original, small_bench, tmp_path):
    res = smfa("unlearn", "nope", tiny_original, small_bench, tmp_path / "out")
    assert_one_line_error(res, "unknown method 'nope'", "smfa")
    res = smfa("unlearn", "ga", tiny_original, small_bench, tmp_path / "o", "--forget", "forget7")
    assert_one_line_error(res, "forget7")


def test_sculpt_adapters_that_do_not_match(tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    def adapter(hidden, path):
        cfg = LlamaConfig(
            vocab_size=32,
            hidden_size=hidden,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
        torch.manual_seed(0)
        m = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(r=2, target_modules=["q_proj"]))
        m.save_pretrained(path)

    adapter(16, tmp_path / "a16")
    adapter(8, tmp_path / "a8")
    res = smfa("sculpt", tmp_path / "a16", tmp_path / "a8", tmp_path / "out", "--k", "5")
    assert_one_line_error(res, "q_proj")
    assert not (tmp_path / "out").exists()


def test_eval_adapter_for_another_model(tiny_original, small_bench, tmp_path):
    import torch
    from safetensors.torch import save_file

    (tmp_path / "m").mkdir()
    save_file(
        {"model.language_model.layers.0.self_attn.q_proj.weight": torch.zeros(3, 3)},
        str(tmp_path / "m" / "delta.safetensors"),
    )
    res = smfa(
        "eval",
        tiny_original,
        small_bench,
        tmp_path / "e.json",
        "--adapter",
        tmp_path / "m",
        "--max_samples",
        "2",
    )
    assert_one_line_error(res, "does not match the model")
    assert not (tmp_path / "e.json").exists()


def test_pickle_weights_are_refused(tmp_path):
    import torch

    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text('{"model_type": "llava"}')
    torch.save({"w": torch.zeros(1)}, d / "pytorch_model.bin")
    from smfa.errors import SmfaError
    from smfa.models import load

    with pytest.raises(SmfaError, match="pickle"):
        load(str(d))


def _random_adapter(path, seed: int, hidden: int = 16):
    """A LoRA adapter with random (non-zero) A and B on a tiny Llama."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=32,
        hidden_size=hidden,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    torch.manual_seed(seed)
    lora = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(LlamaForCausalLM(cfg), lora).save_pretrained(path)


def test_sculpt_k_inf_on_the_command_line_equals_criteria_none(tmp_path):
    import torch

    from smfa.io import load_safetensors

    _random_adapter(tmp_path / "mfa", 0)
    _random_adapter(tmp_path / "ra", 1)
    runs = {"inf": ["--k", "inf"], "none": ["--criteria", "none"], "k0": ["--k", "0"]}
    deltas = {}
    for name, flags in runs.items():
        res = smfa("sculpt", tmp_path / "mfa", tmp_path / "ra", tmp_path / name, *flags)
        assert res.returncode == 0, res.stderr[-2000:]
        deltas[name] = load_safetensors(tmp_path / name / "delta.safetensors")
    assert deltas["inf"].keys() == deltas["none"].keys()
    for key in deltas["inf"]:
        assert torch.equal(deltas["inf"][key], deltas["none"][key])
        assert deltas["inf"][key].abs().sum() > 0
    assert any(not torch.equal(deltas["k0"][k], deltas["none"][k]) for k in deltas["none"])
    import yaml

    assert yaml.safe_load((tmp_path / "inf" / "config.yaml").read_text())["k"] == float("inf")
