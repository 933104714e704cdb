"""Every registered method, on the tiny original model: direction of the forget loss, outputs.

Parametrized over the registry, so a newly registered method is tested automatically.
"""

from __future__ import annotations

import json

import pytest
import torch

from smfa.registry import METHODS

torch.set_num_threads(1)

STEPS = {
    "max_steps": 6,
    "batch_size": 4,
    "lr": 2e-3,
    "seed": 0,
    "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target": "language"},
}


@pytest.fixture(scope="module")
def method_config(tmp_path_factory):
    import yaml

    p = tmp_path_factory.mktemp("cfg") / "few_steps.yaml"
    p.write_text(yaml.safe_dump({"train": STEPS, "options": {}}))
    return str(p)


def forget_nll(model_dir, bench_dir, adapter=None) -> float:
    """Mean NLL of the forget10 gold answers (memory questions), lower = remembers more."""
    from smfa.bench import load
    from smfa.data import MEMORY_QTYPES, ImageCache
    from smfa.eval.generate import answer_logprobs
    from smfa.stages.evaluate import load_evaluated_model

    b = load(bench_dir)
    rows = [r for r in b.split("forget10") if r["qtype"] in MEMORY_QTYPES]
    img = ImageCache()
    items = [(img.of(b, r), r["question"], r["answer"]) for r in rows]
    net, proc = load_evaluated_model(str(model_dir), adapter, "float32", "cpu")
    return -sum(answer_logprobs(net, proc, items)) / len(items)


@pytest.fixture
def run_method(tiny_original, small_bench, method_config):
    """``run_method(name, out, options, **kwargs)``: ``smfa unlearn`` on forget10, few steps."""
    from smfa.stages.unlearn import unlearn

    def run(name, out, options=None, **kwargs):
        return unlearn(
            name,
            str(tiny_original),
            str(small_bench),
            str(out),
            forget="forget10",
            method_config=method_config,
            options=options,
            **kwargs,
        )

    return run


@pytest.fixture(scope="module")
def before(tiny_original, small_bench):
    return forget_nll(tiny_original, small_bench)


@pytest.mark.parametrize("name", METHODS.names())
def test_method_raises_forget_loss_within_a_few_steps(
    name, tiny_original, small_bench, before, tmp_path, run_method
):

    out = run_method(name, str(tmp_path / name))
    assert (out / "delta.safetensors").is_file()
    cfg = (out / "config.yaml").read_text()
    assert f"method: {name}" in cfg
    after = forget_nll(tiny_original, small_bench, str(out))
    # Every method aims to make the forget answers less likely (refusal methods move the
    # probability mass to refusals; ascent methods push it away directly).
    assert after > before + 1e-3, f"{name}: forget NLL {before:.4f} -> {after:.4f}"


def test_unknown_method_lists_the_known_ones():
    from smfa.errors import SmfaError

    with pytest.raises(SmfaError, match="known: .*smfa"):
        METHODS.get("nope")


def test_smfa_outputs_peft_adapters_merged_model_and_mask_stats(
    tiny_original, tmp_path, run_method
):
    from peft import PeftModel

    from smfa.adapters import adapter_deltas
    from smfa.io import load_safetensors
    from smfa.models import load
    from smfa.stages.evaluate import load_evaluated_model

    out = run_method("smfa", str(tmp_path / "smfa"), {"k": 1.0}, merge=True)
    # The two adapters are standard peft folders.
    for tag in ("mfa", "anchor"):
        base, _ = load(str(tiny_original))
        peft_model = PeftModel.from_pretrained(base, str(out / "adapters" / tag))
        assert any("lora_A" in n for n, _ in peft_model.named_parameters())
    # Mask statistics per layer and module type.
    stats = json.loads((out / "mask_stats.json").read_text())
    assert stats["layers"] and stats["modules"]
    assert 0.0 < stats["total"]["frac_masked"] < 1.0
    # Sculpting removed something: the delta differs from the raw MFA's.
    delta = load_safetensors(out / "delta.safetensors")
    raw = adapter_deltas(out / "adapters" / "mfa")
    assert set(delta) == set(raw)
    assert any(not torch.equal(delta[k], raw[k]) for k in delta)
    # Merged model == original + sculpted delta applied at load time (float32).
    merged, proc = load(str(out / "merged"))
    applied, _ = load_evaluated_model(str(tiny_original), str(out), "float32", "cpu")
    from smfa.models.format import train_batch

    batch = train_batch(proc, [(None, "Who is this?", "This is nobody.")])
    batch.pop("labels")
    with torch.no_grad():
        diff = (merged(**batch).logits - applied(**batch).logits).abs().max().item()
    assert diff <= 1e-5


def test_resculpt_k_limits_match_methods(tmp_path, run_method):
    """smfa sculpt with k = inf equals the raw MFA (idk), and k = 0 equals criteria c."""
    from smfa.io import load_safetensors
    from smfa.stages.sculpt import sculpt

    src = run_method("smfa", str(tmp_path / "smfa"))
    mfa, anchor = str(src / "adapters" / "mfa"), str(src / "adapters" / "anchor")
    inf = load_safetensors(
        sculpt(mfa, anchor, str(tmp_path / "inf"), k=float("inf")) / "delta.safetensors"
    )
    none = load_safetensors(
        sculpt(mfa, anchor, str(tmp_path / "none"), criteria="none") / "delta.safetensors"
    )
    zero = load_safetensors(sculpt(mfa, anchor, str(tmp_path / "k0"), k=0.0) / "delta.safetensors")
    c_only = load_safetensors(
        sculpt(mfa, anchor, str(tmp_path / "c"), criteria="c") / "delta.safetensors"
    )
    for key in inf:
        assert torch.equal(inf[key], none[key])
        assert torch.equal(zero[key], c_only[key])
    idk = run_method("idk", str(tmp_path / "idk"), adapters_from=str(src))
    reused = load_safetensors(idk / "delta.safetensors")
    assert all(torch.equal(reused[k], inf[k]) for k in inf)


def test_tiny_original_selects_the_tuned_tiny_unlearning_configs(tiny_original):
    import yaml

    from smfa.stages.unlearn import default_config_path, is_tiny

    assert yaml.safe_load((tiny_original / "config.yaml").read_text())["model"] == "tiny"
    assert default_config_path("smfa", is_tiny(tiny_original)).parts[-2:] == ("tiny", "smfa.yaml")
    assert default_config_path("ga", is_tiny(tiny_original)).parts[-2:] == ("tiny", "default.yaml")


def test_full_finetuning_gives_a_dense_delta(tiny_original, tmp_path, run_method):
    """Every method also runs without LoRA: ΔW = W_trained − W_o for the changed weights."""
    from smfa.io import load_safetensors
    from smfa.models import load

    out = run_method("gd", str(tmp_path / "gd_full"), full_finetune=True, max_steps=2)
    delta = load_safetensors(out / "delta.safetensors")
    model, _ = load(str(tiny_original))
    params = dict(model.named_parameters())
    assert delta and set(delta) <= set(params)
    assert any("vision_tower" in k for k in delta)  # not only the LoRA targets
    assert all(delta[k].shape == params[k].shape for k in delta)
    assert not (out / "adapters").exists()


def test_smfa_full_finetune_sculpts_the_dense_deltas(tiny_original, tmp_path, run_method):
    """``smfa --full_finetune``: MFA and RA are full fine-tunes, saved as dense ΔW; the result
    equals the mask reference M = C & R computed by hand on those same dense deltas."""
    from smfa.io import load_safetensors
    from smfa.sculpt import EPS

    k = 1.0
    out = run_method("smfa", str(tmp_path / "full"), {"k": k}, full_finetune=True, max_steps=2)
    got = load_safetensors(out / "delta.safetensors")
    df = load_safetensors(out / "adapters" / "mfa" / "delta.safetensors")
    da = load_safetensors(out / "adapters" / "anchor" / "delta.safetensors")
    assert set(got) == set(df) and any("vision_tower" in key for key in df)  # all weights
    deleted = 0
    for key, f in df.items():
        a = da.get(key, torch.zeros_like(f))
        r = f.norm() / (a.norm() + EPS)
        m = (a * f < 0) & (k * r * a.abs() < f.abs())
        assert torch.allclose(got[key], f * (~m), rtol=0, atol=0), key
        deleted += int(m.sum())
    assert deleted > 0  # the anchor sculpted something
    # Re-sculpting the saved dense deltas (no training) gives the same delta.
    again = run_method("smfa", str(tmp_path / "again"), {"k": k}, adapters_from=str(out))
    assert all(
        torch.equal(v, got[key]) for key, v in load_safetensors(again / "delta.safetensors").items()
    )


def test_model_tailor_keeps_a_sparse_patch_of_the_reused_mfa(tmp_path, run_method):
    """model_tailor reuses the MFA (no retraining) and keeps at most ``density`` of it."""
    from smfa.adapters import adapter_deltas
    from smfa.io import load_safetensors

    src = run_method("model_tailor", str(tmp_path / "mt"), {"density": 0.2})
    again = run_method(
        "model_tailor", str(tmp_path / "re"), {"density": 0.2}, adapters_from=str(src)
    )
    a, b = (
        load_safetensors(src / "delta.safetensors"),
        load_safetensors(again / "delta.safetensors"),
    )
    raw = adapter_deltas(src / "adapters" / "mfa")
    assert set(a) == set(raw) == set(b)
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-6)
        kept = a[key] != 0
        assert 0 < int(kept.sum()) <= round(0.2 * kept.numel())
        assert not torch.equal(a[key][kept], raw[key][kept])  # compensated, not a plain mask
