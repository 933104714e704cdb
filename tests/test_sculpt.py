"""SMFA sculpting math (SPEC §2.3) and peft adapter plumbing, with hand-computed values."""

import copy
import json
import math

import pytest
import torch

torch.set_num_threads(1)

from smfa.adapters import (  # noqa: E402
    adapter_deltas,
    apply_deltas,
    iter_adapter_deltas,
    sculpt_adapters,
    sculpt_deltas,
    write_lora_adapter,
)
from smfa.errors import SmfaError  # noqa: E402
from smfa.io import save_safetensors  # noqa: E402
from smfa.sculpt import (  # noqa: E402
    combine_deltas,
    lora_delta,
    mask_stats_table,
    merge,
    rho,
    sculpt,
    sculpt_mask,
    svd_refactor,
)

# Hand example. ‖ΔW_a‖² = 1+1+1+1 = 4, ‖ΔW_f‖² = 4+1+1+9+1 = 16, so ρ = 4 / (2 + 1e-12) = 2
# exactly in float32 (2 + 1e-12 rounds to 2).
F = torch.tensor([[-2.0, 1.0, -1.0], [3.0, 1.0, 0.0]])
A = torch.tensor([[1.0, -1.0, 1.0], [-1.0, 0.0, 0.0]])
# ΔW_a·ΔW_f = [[-2, -1, -1], [-3, 0, 0]]  →  C = [[T, T, T], [T, F, F]]
C = torch.tensor([[True, True, True], [True, False, False]])


def rand(shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ pure math


def test_lora_delta_hand():
    A_ = torch.tensor([[1.0, 2.0]])  # r = 1, in = 2
    B_ = torch.tensor([[3.0], [4.0]])  # out = 2
    # 0.5 · [[3, 6], [4, 8]]
    expect = torch.tensor([[1.5, 3.0], [2.0, 4.0]])
    assert torch.equal(lora_delta(A_, B_, 0.5), expect)
    assert torch.equal(lora_delta(A_, B_, 0.5, fan_in_fan_out=True), expect.T)
    assert lora_delta(A_.bfloat16(), B_.bfloat16(), 0.5).dtype == torch.float32
    with pytest.raises(ValueError):
        lora_delta(B_, B_, 1.0)


def test_rho_hand():
    assert float(rho(F, A)) == 2.0
    assert float(rho(torch.zeros(2, 3), A)) == 0.0
    assert float(rho(torch.zeros(2, 3), torch.zeros(2, 3), eps=0.0)) == 0.0  # 0/0 → 0
    assert float(rho(F, torch.zeros(2, 3), eps=0.0)) == math.inf


def test_hand_example_k_half():
    # k = 0.5: threshold t = k·ρ·|ΔW_a| = |ΔW_a| = [[1, 1, 1], [1, 0, 0]]
    # |ΔW_f| = [[2, 1, 1], [3, 1, 0]];  R = t < |ΔW_f| = [[T, F, F], [T, T, F]]  (1 < 1 is F)
    # M = C ∧ R = [[T, F, F], [T, F, F]];  ΔW'_f = [[0, 1, -1], [0, 1, 0]]
    R = torch.tensor([[True, False, False], [True, True, False]])
    M = torch.tensor([[True, False, False], [True, False, False]])
    assert torch.equal(sculpt_mask(F, A, 0.5, "r"), R)
    assert torch.equal(sculpt_mask(F, A, 0.5, "c"), C)
    assert torch.equal(sculpt_mask(F, A, 0.5), M)
    out, mask, stats = sculpt(F, A, 0.5)
    assert torch.equal(mask, M)
    assert torch.equal(out, torch.tensor([[0.0, 1.0, -1.0], [0.0, 1.0, 0.0]]))
    assert stats["numel"] == 6 and stats["masked"] == 2 and stats["frac_masked"] == 2 / 6
    assert stats["rho"] == 2.0 and stats["conflict"] == 4 and stats["dominant"] == 3
    # removed entries -2 and 3: ‖·‖ = √13, over ‖ΔW_f‖ = 4
    assert stats["removed_norm_frac"] == pytest.approx(math.sqrt(13) / 4)
    # criteria r: delete R; c: delete C; none: keep all
    assert torch.equal(sculpt(F, A, 0.5, "r")[0], torch.tensor([[0.0, 1, -1], [0, 0, 0]]))
    assert torch.equal(sculpt(F, A, 0.5, "c")[0], torch.tensor([[0.0, 0, 0], [0, 1, 0]]))
    assert torch.equal(sculpt(F, A, 0.5, "none")[0], F)
    json.dumps(stats)  # JSON-ready


def test_hand_example_k_one_and_limits():
    # k = 1: t = 2·|ΔW_a| = [[2, 2, 2], [2, 0, 0]]; R = [[F, F, F], [T, T, F]]; M = (1,0) only
    out, mask, _ = sculpt(F, A, 1.0)
    assert torch.equal(out, torch.tensor([[-2.0, 1, -1], [0, 1, 0]]))
    # k = 0: R = (|ΔW_f| > 0) so M = C on every nonzero entry: "C only"
    assert torch.equal(sculpt(F, A, 0.0)[0], torch.tensor([[0.0, 0, 0], [0, 1, 0]]))
    assert torch.equal(sculpt_mask(F, A, 0.0, "r"), F != 0)
    # k = ∞: nothing deleted (raw MFA); R is True only where ΔW_a = 0 and ΔW_f ≠ 0 (entry (1,1))
    assert torch.equal(sculpt(F, A, math.inf)[0], F)
    assert torch.equal(sculpt_mask(F, A, math.inf, "r"), (A == 0) & (F != 0))


def test_mask_matches_elementwise_python_loop():
    f, a = rand((5, 7), 0), rand((5, 7), 1)
    fl, al = f.tolist(), a.tolist()
    nf = math.sqrt(sum(x * x for row in fl for x in row))
    na = math.sqrt(sum(x * x for row in al for x in row))
    r = nf / (na + 1e-12)
    for k in (0.1, 0.5, 1.0, 3.0):
        m = sculpt_mask(f, a, k)
        for i in range(5):
            for j in range(7):
                x, y = fl[i][j], al[i][j]
                expect = (x * y < 0) and (k * r * abs(y) < abs(x))
                assert bool(m[i, j]) == expect, (k, i, j)
    assert sculpt_mask(f, a, 0.5).any() and not sculpt_mask(f, a, 0.5).all()


def test_limits_on_random_tensors():
    f, a = rand((32, 24), 2), rand((32, 24), 3)
    for k in (math.inf, 1e12):
        out, mask, stats = sculpt(f, a, k)
        assert not mask.any() and torch.equal(out, f) and stats["masked"] == 0
    c_only = sculpt(f, a, 0.0, "c")[0]
    assert torch.equal(sculpt(f, a, 0.0)[0], c_only)
    assert torch.equal(sculpt_mask(f, a, 0.0), (f * a) < 0)
    for k in (0.0, 1.0, math.inf):  # none and c ignore k
        assert torch.equal(sculpt(f, a, k, "none")[0], f)
        assert torch.equal(sculpt_mask(f, a, k, "c"), (f * a) < 0)
    R = sculpt_mask(f, a, 1.0, "r")
    assert torch.equal(sculpt(f, a, 1.0, "r")[0], torch.where(R, 0.0, f))
    # masked fraction is monotone non-increasing in k
    fracs = [sculpt(f, a, k)[2]["frac_masked"] for k in (0, 0.5, 1, 2, 5, 50)]
    assert fracs == sorted(fracs, reverse=True) and fracs[0] > fracs[-1]


def test_bad_k_and_criteria():
    for bad in (-1.0, -1e-9, float("nan"), "x"):
        with pytest.raises(ValueError, match="k"):
            sculpt(F, A, bad)
        with pytest.raises(ValueError, match="k"):
            sculpt_mask(F, A, bad)
    with pytest.raises(ValueError, match="criteria"):
        sculpt(F, A, 1.0, "cx")
    with pytest.raises(ValueError, match="shape"):
        sculpt(F, A.T, 1.0)
    with pytest.raises(ValueError, match="non-finite"):
        sculpt(torch.tensor([math.nan, 1.0]), torch.ones(2), 1.0)


def test_dtype_kept_and_zero_anchor():
    out, _, _ = sculpt(F.bfloat16(), A.bfloat16(), 0.5)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out.float(), torch.tensor([[0.0, 1, -1], [0, 1, 0]]))
    for eps in (1e-12, 0.0):  # an all-zero anchor conflicts nowhere: raw MFA, no nan
        out, mask, stats = sculpt(F, torch.zeros(2, 3), 0.5, eps=eps)
        assert torch.equal(out, F) and not mask.any()


def test_merge_and_combine():
    w = torch.tensor([[1.0, 2.0]], dtype=torch.bfloat16)
    assert torch.equal(merge(w, torch.tensor([[0.5, -2.0]])), torch.tensor([[1.5, 0.0]]).bfloat16())
    assert merge(w, torch.zeros(1, 2)).dtype == torch.bfloat16
    x, y = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 4.0])
    assert torch.equal(combine_deltas([x, y], "mean"), torch.tensor([2.0, 1.0]))
    assert torch.equal(combine_deltas([x, y], "sum"), torch.tensor([4.0, 2.0]))
    d = combine_deltas([{"l.weight": x}, {"l.weight": y}])
    assert torch.equal(d["l.weight"], torch.tensor([2.0, 1.0]))
    with pytest.raises(ValueError):
        combine_deltas([{"l.weight": x}, {"m.weight": y}])
    with pytest.raises(ValueError):
        combine_deltas([x, y], "max")


def test_svd_refactor():
    d = rand((6, 4), 4)
    A_, B_, err = svd_refactor(d, 4)  # full rank
    assert A_.shape == (4, 4) and B_.shape == (6, 4)
    assert err < 1e-6 and torch.allclose(B_ @ A_, d, atol=1e-5)
    A_, B_, err = svd_refactor(d, 8)  # above min(out, in): zero-padded, same product
    assert A_.shape == (8, 4) and B_.shape == (6, 8) and err < 1e-6
    A_, B_, err = svd_refactor(d, 2)
    S = torch.linalg.svdvals(d.double())
    expect = math.sqrt(float((S[2:] ** 2).sum() / (S**2).sum()))  # Eckart–Young tail
    assert err == pytest.approx(expect, rel=1e-4)
    assert svd_refactor(torch.zeros(3, 3), 2)[2] == 0.0
    with pytest.raises(ValueError):
        svd_refactor(d, 0)


def test_mask_stats_table():
    stats = {
        "m.layers.0.q_proj.weight": {"numel": 10, "masked": 2, "conflict": 5, "rho": 1.0},
        "m.layers.1.q_proj.weight": {"numel": 30, "masked": 6, "conflict": 9, "rho": 3.0},
        "m.layers.0.v_proj.weight@view1": {"numel": 20, "masked": 0, "conflict": 4, "rho": 2.0},
    }
    t = mask_stats_table(stats)
    q = t["modules"]["q_proj"]
    assert q["layers"] == 2 and q["masked"] == 8 and q["frac_masked"] == 8 / 40
    assert q["conflict_frac"] == 14 / 40 and q["mean_rho"] == 2.0
    assert t["modules"]["v_proj"]["frac_masked"] == 0.0
    assert t["total"]["numel"] == 60 and t["total"]["frac_masked"] == 8 / 60
    assert set(t["layers"]) == set(stats)


# ------------------------------------------------------------------ adapter folders


def write_fake_adapter(folder, layers, r=2, alpha=4, **cfg):
    """Write a peft-layout adapter by hand: layers = {module: (out, in)}; returns factors."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "target_modules": list(layers)}
    config.update(cfg)
    (folder / "adapter_config.json").write_text(json.dumps(config))
    tensors = {}
    for i, (mod, (o, n)) in enumerate(layers.items()):
        tensors[f"base_model.model.{mod}.lora_A.weight"] = rand((r, n), 10 + i)
        tensors[f"base_model.model.{mod}.lora_B.weight"] = rand((o, r), 20 + i)
    save_safetensors(folder / "adapter_model.safetensors", tensors)
    return tensors


def test_fake_adapter_deltas_and_streaming(tmp_path):
    layers = {"m.l0.q_proj": (4, 3), "m.l0.v_proj": (2, 3), "m.l1.q_proj": (4, 3)}
    tf = write_fake_adapter(tmp_path / "mfa", layers)
    write_fake_adapter(tmp_path / "ra", layers, r=3, alpha=3)
    d = adapter_deltas(tmp_path / "mfa")
    assert list(d) == ["m.l0.q_proj.weight", "m.l0.v_proj.weight", "m.l1.q_proj.weight"]
    a_, b_ = (
        tf["base_model.model.m.l0.v_proj.lora_A.weight"],
        tf["base_model.model.m.l0.v_proj.lora_B.weight"],
    )
    assert torch.equal(d["m.l0.v_proj.weight"], (b_ @ a_) * 2.0)  # alpha/r = 4/2
    assert [k for k, _ in iter_adapter_deltas(tmp_path / "mfa")] == list(d)
    streamed = list(sculpt_adapters(tmp_path / "mfa", tmp_path / "ra", 1.0))
    whole = list(sculpt_deltas(d, adapter_deltas(tmp_path / "ra"), 1.0))
    assert [k for k, _, _ in streamed] == [k for k, _, _ in whole]
    for (_, x, sx), (_, y, sy) in zip(streamed, whole, strict=True):
        # the same values; stats from the factors' Gram norms agree to float32 round-off
        assert torch.equal(x, y) and sx["criteria"] == sy["criteria"]
        num = [key for key in sy if key != "criteria"]
        assert [sx[key] for key in num] == pytest.approx([sy[key] for key in num], rel=1e-6)


def test_mismatched_adapters_raise(tmp_path):
    write_fake_adapter(tmp_path / "mfa", {"m.q_proj": (4, 3), "m.v_proj": (2, 3)})
    write_fake_adapter(tmp_path / "ra_missing", {"m.q_proj": (4, 3)})
    write_fake_adapter(tmp_path / "ra_shape", {"m.q_proj": (4, 3), "m.v_proj": (3, 3)})
    with pytest.raises(SmfaError, match=r"ra_missing.*adapter_model\.safetensors.*m\.v_proj"):
        next(sculpt_adapters(tmp_path / "mfa", tmp_path / "ra_missing", 1.0))
    # roles swapped: the file that lacks the layer is named first
    with pytest.raises(SmfaError, match=r"ra_missing/adapter_model\.safetensors: layer 'm\.v_"):
        next(sculpt_adapters(tmp_path / "ra_missing", tmp_path / "mfa", 1.0))
    with pytest.raises(SmfaError, match=r"ra_shape.*m\.v_proj\.weight.*shape"):
        next(sculpt_adapters(tmp_path / "mfa", tmp_path / "ra_shape", 1.0))
    with pytest.raises(SmfaError, match="k must be >= 0"):
        next(sculpt_adapters(tmp_path / "mfa", tmp_path / "mfa", -1.0))


def test_bad_adapter_folders(tmp_path):
    with pytest.raises(SmfaError, match="not found"):
        adapter_deltas(tmp_path / "nope")
    write_fake_adapter(tmp_path / "dora", {"m.q_proj": (4, 3)}, use_dora=True)
    with pytest.raises(SmfaError, match="use_dora"):
        adapter_deltas(tmp_path / "dora")
    bad = tmp_path / "pickle"
    write_fake_adapter(bad, {"m.q_proj": (4, 3)})
    (bad / "adapter_model.safetensors").rename(bad / "adapter_model.bin")
    with pytest.raises(SmfaError, match="pickle"):
        adapter_deltas(bad)
    extra = tmp_path / "extra"
    write_fake_adapter(extra, {"m.q_proj": (4, 3)})
    save_safetensors(
        extra / "adapter_model.safetensors", {"base_model.model.m.lm_head.weight": torch.ones(2, 2)}
    )
    with pytest.raises(SmfaError, match="lm_head"):
        adapter_deltas(extra)


# ------------------------------------------------------------------ real peft round trips


def tiny_llama(seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=32,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,  # v_proj is [8, 16]: non-square
        max_position_embeddings=16,
    )
    return LlamaForCausalLM(cfg).eval()


def peft_adapter(base, out_dir, seed, **lora):
    from peft import LoraConfig, get_peft_model

    kw = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"], "lora_dropout": 0.0}
    kw.update(lora)
    model = get_peft_model(copy.deepcopy(base), LoraConfig(**kw))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.normal_(0.0, 0.3, generator=g)
    model.save_pretrained(out_dir)
    return model


IDS = torch.tensor([[1, 5, 9, 3, 7, 2], [4, 4, 8, 1, 0, 6]])


@pytest.mark.parametrize(
    "lora",
    [
        {},
        {"use_rslora": True},
        {"rank_pattern": {"v_proj": 2}, "alpha_pattern": {"layers.1.self_attn.q_proj": 3}},
    ],
    ids=["plain", "rslora", "patterns"],
)
def test_adapter_deltas_equal_peft_get_delta_weight(tmp_path, lora):
    base = tiny_llama()
    model = peft_adapter(base, tmp_path / "a", seed=1, **lora)
    deltas = adapter_deltas(tmp_path / "a")
    seen = 0
    for name, module in model.named_modules():
        if hasattr(module, "get_delta_weight") and "default" in getattr(module, "lora_A", {}):
            key = name.removeprefix("base_model.model.") + ".weight"
            torch.testing.assert_close(
                deltas[key], module.get_delta_weight("default"), rtol=0, atol=1e-6
            )
            seen += 1
    assert seen == len(deltas) == 4
    # merged weights: base + ΔW equals peft's merge_and_unload
    plain = copy.deepcopy(base)
    apply_deltas(plain, deltas)
    merged = model.merge_and_unload()
    for key in deltas:
        torch.testing.assert_close(
            plain.get_parameter(key), merged.get_parameter(key), rtol=0, atol=1e-6
        )


def test_sculpted_adapter_loads_in_peft_and_matches_merge(tmp_path):
    from peft import PeftModel

    base = tiny_llama()
    peft_adapter(base, tmp_path / "mfa", seed=1)
    peft_adapter(base, tmp_path / "ra", seed=2, r=2)
    deltas, stats = {}, {}
    for key, d, st in sculpt_adapters(tmp_path / "mfa", tmp_path / "ra", 1.0):
        deltas[key], stats[key] = d, st
    assert 0 < mask_stats_table(stats)["total"]["frac_masked"] < 1

    merged = copy.deepcopy(base)
    apply_deltas(merged, deltas)
    with torch.no_grad():
        want = merged(IDS).logits
        raw = copy.deepcopy(base)
        apply_deltas(raw, adapter_deltas(tmp_path / "mfa"))
        assert (raw(IDS).logits - want).abs().max() > 1e-3  # the mask matters here

    # full rank (16 >= every layer's min dim): peft at run time == merged weights
    errors = write_lora_adapter(tmp_path / "sculpted", deltas, rank=16)
    assert max(errors.values()) < 1e-5
    cfg = json.loads((tmp_path / "sculpted" / "adapter_config.json").read_text())
    assert cfg["r"] == cfg["lora_alpha"] == 16
    assert sorted(cfg["target_modules"]) == sorted(k.removesuffix(".weight") for k in deltas)
    loaded = PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "sculpted").eval()
    with torch.no_grad():
        got = loaded(IDS).logits
    assert (got - want).abs().max() <= 1e-5

    # truncated rank: peft reproduces base + B@A, and the reported error is the real one
    errors = write_lora_adapter(tmp_path / "r2", deltas, rank=2)
    back = adapter_deltas(tmp_path / "r2")
    for key, d in deltas.items():
        rel = float((d - back[key]).norm() / d.norm())
        assert rel == pytest.approx(errors[key], rel=1e-4, abs=1e-6) and rel > 0.01
    low = copy.deepcopy(base)
    apply_deltas(low, back)
    loaded = PeftModel.from_pretrained(copy.deepcopy(base), tmp_path / "r2").eval()
    with torch.no_grad():
        assert (loaded(IDS).logits - low(IDS).logits).abs().max() <= 1e-5


def test_apply_deltas_mismatch_leaves_model_untouched():
    model = tiny_llama()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    key = "model.layers.0.self_attn.q_proj.weight"
    good = torch.ones(16, 16)
    with pytest.raises(SmfaError, match=r"mfa\.safetensors: adapter does not match the model.*"):
        apply_deltas(model, {key: good, "model.nope.weight": good}, source="mfa.safetensors")
    with pytest.raises(SmfaError, match=r"v_proj\.weight' shape \(16, 16\)"):
        apply_deltas(model, {key: good, "model.layers.0.self_attn.v_proj.weight": good})
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    apply_deltas(model, {key: good})
    assert torch.equal(model.get_parameter(key), before[key] + 1)
