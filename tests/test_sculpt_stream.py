"""Streaming sculpt + merge from the LoRA factors (issue 14): the same masks, values and stats
as the dense reference in smfa.sculpt, with chunk-sized memory."""

import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch

torch.set_num_threads(1)

from smfa.sculpt import (  # noqa: E402
    LowRank,
    combine_deltas,
    lora_delta,
    lowrank,
    lowrank_norm,
    lowrank_rows,
    merge,
    rho,
    rho_from_norms,
    sculpt,
    sculpt_streamed,
)

CRITERIA = ("cr", "c", "r", "none")


def factors(rows, cols, r, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(r, cols, generator=g) * scale, torch.randn(rows, r, generator=g)


def collect(mfas, anchor, k, criteria="cr", chunk_rows=16, combine="mean"):
    out = torch.full(anchor.shape, math.nan)

    def sink(i, chunk):
        out[i : i + chunk.shape[0]] = chunk

    stats = sculpt_streamed(mfas, anchor, k, criteria, sink, chunk_rows=chunk_rows, combine=combine)
    return out, stats


def test_hand_example_from_factors():
    # ΔW_f = I @ F and ΔW_a = I @ A of tests/test_sculpt.py: ρ = 4 / 2 = 2 exactly.
    F = torch.tensor([[-2.0, 1.0, -1.0], [3.0, 1.0, 0.0]])
    A = torch.tensor([[1.0, -1.0, 1.0], [-1.0, 0.0, 0.0]])
    f, a = lowrank(F, torch.eye(2), 1.0), lowrank(A, torch.eye(2), 1.0)
    assert lowrank_norm(f) == 4.0 and lowrank_norm(a) == 2.0
    # k = 0.5: M = [[T, F, F], [T, F, F]]; ΔW'_f = [[0, 1, -1], [0, 1, 0]] (one row per chunk)
    out, [st] = collect(f, a, 0.5, chunk_rows=1)
    assert torch.equal(out, torch.tensor([[0.0, 1.0, -1.0], [0.0, 1.0, 0.0]]))
    assert (st["numel"], st["masked"], st["conflict"], st["dominant"]) == (6, 2, 4, 3)
    assert st["rho"] == 2.0 and st["norm_f"] == 4.0 and st["norm_a"] == 2.0
    # removed entries -2 and 3: ‖·‖ = √13; kept 1, -1, 1: √3
    assert st["removed_norm_frac"] == pytest.approx(math.sqrt(13) / 4, rel=1e-12)
    assert st["norm_sculpted"] == pytest.approx(math.sqrt(3), rel=1e-12)
    # k = 0 → C only: every conflicting entry goes; k = ∞ → raw MFA
    out, _ = collect(f, a, 0.0)
    assert torch.equal(out, torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    out, [st] = collect(f, a, math.inf)
    assert torch.equal(out, F) and st["masked"] == 0


def test_gram_norm_and_rows_match_the_dense_delta():
    A, B = factors(40, 24, 3, 0)
    for s, fifo in ((0.5, False), (2.0, True)):
        u = lowrank(A, B, s, fifo)
        dense = lora_delta(A, B, s, fifo)
        assert u.shape == tuple(dense.shape)
        assert lowrank_norm(u) == pytest.approx(
            float(torch.linalg.vector_norm(dense.double())), rel=1e-6
        )
        assert torch.allclose(lowrank_rows(u, 5, 17), dense[5:17], rtol=1e-6, atol=0)
    exact = lowrank(torch.tensor([[3.0, 4.0]]), torch.tensor([[1.0], [0.0]]), 2.0)
    assert lowrank_norm(exact) == 10.0  # 2·‖[[3, 4], [0, 0]]‖ = 2·5
    assert rho_from_norms(0.0, 0.0, eps=0.0) == 0.0 and rho_from_norms(3.0, 0.0, 0.0) == math.inf
    assert rho_from_norms(4.0, 2.0) == float(rho(torch.tensor([4.0]), torch.tensor([2.0])))


def _band(df, da, k, r):
    """Entries whose R test is within float32 round-off of ρ (either answer is right)."""
    if k in (0, math.inf):
        return torch.zeros_like(df, dtype=torch.bool)
    t = k * r * da.abs().double()
    return (t - df.abs().double()).abs() <= 1e-5 * t


@pytest.mark.parametrize("seed", [1, 2])
def test_same_as_dense_reference_on_random_adapters(seed):
    rows, cols = 70, 48  # 70 rows: chunks of 16 leave a partial last chunk
    Af, Bf = factors(rows, cols, 4, seed)
    Aa, Ba = factors(rows, cols, 4, seed + 100, scale=0.7)
    f, a = lowrank(Af, Bf, 0.5), lowrank(Aa, Ba, 2.0)
    df, da = lora_delta(Af, Bf, 0.5), lora_delta(Aa, Ba, 2.0)
    r = float(rho(df, da))
    for k in (0.0, 0.3, 1.0, 2.0, 5.0, math.inf):
        band = _band(df, da, k, r)
        assert band.float().mean() < 0.01
        for criteria in CRITERIA:
            for chunk_rows in (1, 16, 200):
                ref, M, st_ref = sculpt(df, da, k, criteria)
                out, [st] = collect(f, a, k, criteria, chunk_rows)
                ok = torch.isclose(out, ref, rtol=1e-5, atol=0) | band
                assert bool(ok.all()), (k, criteria, chunk_rows)
                n_band = int(band.sum())
                for key in ("masked", "conflict", "dominant"):
                    assert abs(st[key] - st_ref[key]) <= n_band, (key, k, criteria)
                for key in ("rho", "norm_f", "norm_a"):
                    assert st[key] == pytest.approx(st_ref[key], rel=1e-5)
                if n_band == 0:
                    assert st["masked"] == st_ref["masked"]
                    assert st["norm_sculpted"] == pytest.approx(st_ref["norm_sculpted"], rel=1e-5)
                assert st["k"] == k and st["criteria"] == criteria and st["numel"] == rows * cols
    # the limits, exactly: k = ∞ is the raw MFA, "none" too
    out, _ = collect(f, a, math.inf)
    assert torch.equal(out, lowrank_rows(f, 0, rows))
    out, [st] = collect(f, a, 3.0, "none")
    assert torch.equal(out, lowrank_rows(f, 0, rows)) and st["masked"] == 0


def test_merge_in_place_and_views_combined():
    rows, cols = 33, 20
    A1, B1 = factors(rows, cols, 2, 7)
    A2, B2 = factors(rows, cols, 2, 8)
    Aa, Ba = factors(rows, cols, 2, 9)
    f1, f2, a = lowrank(A1, B1, 1.0), lowrank(A2, B2, 1.0), lowrank(Aa, Ba, 1.0)
    d1, d2, da = lora_delta(A1, B1, 1.0), lora_delta(A2, B2, 1.0), lora_delta(Aa, Ba, 1.0)
    for how in ("mean", "sum"):
        out, stats = collect([f1, f2], a, 1.0, combine=how)
        ref = combine_deltas([sculpt(d1, da, 1.0)[0], sculpt(d2, da, 1.0)[0]], how)
        assert torch.allclose(out, ref, rtol=1e-5, atol=1e-6) and len(stats) == 2
        assert stats[0]["rho"] != stats[1]["rho"]  # each view has its own ρ
    # merge: W += ΔW'_f chunk by chunk equals merge(W, ΔW'_f) (float32 and bfloat16 W)
    for dtype in (torch.float32, torch.bfloat16):
        W0 = torch.randn(rows, cols).to(dtype)
        W = W0.clone()

        def add(i, chunk, W=W):
            n = chunk.shape[0]
            W[i : i + n] = (W[i : i + n].float() + chunk).to(W.dtype)

        sculpt_streamed(f1, a, 1.0, sink=add, chunk_rows=16)
        assert torch.allclose(W.float(), merge(W0, sculpt(d1, da, 1.0)[0]).float(), atol=1e-2)


def test_bad_inputs():
    A, B = factors(8, 6, 2, 0)
    u = lowrank(A, B, 1.0)
    with pytest.raises(ValueError, match="k must be"):
        sculpt_streamed(u, u, -1.0)
    with pytest.raises(ValueError, match="criteria"):
        sculpt_streamed(u, u, 1.0, "x")
    with pytest.raises(ValueError, match="chunk_rows"):
        sculpt_streamed(u, u, 1.0, chunk_rows=0)
    with pytest.raises(ValueError, match="differ in shape"):
        sculpt_streamed(lowrank(*factors(8, 5, 2, 0), 1.0), u, 1.0)
    bad = LowRank(u.left.clone(), u.right.clone(), 1.0)
    bad.right[0, 0] = math.nan
    with pytest.raises(ValueError, match="ΔW_f has non-finite"):
        sculpt_streamed(bad, u, 1.0)
    with pytest.raises(ValueError, match="ΔW_a has non-finite"):
        sculpt_streamed(u, bad, 1.0)
    huge = LowRank(u.left * 1e30, u.right * 1e30, 1.0)  # finite factors, ΔW overflows
    with pytest.raises(ValueError, match="non-finite"):
        sculpt_streamed(huge, u, 1.0)


def test_peak_extra_memory_is_chunks_not_a_delta():
    """In a fresh interpreter, with everything else (factors, W, imports) allocated first, the
    process's data segment limit (RLIMIT_DATA: heap + private anonymous maps, i.e. every
    tensor) is set to what it uses plus 4 MiB. The streamed sculpt + merge of a 2048×2048
    layer (ΔW: 16 MiB) must run under it; the dense path must hit it, which shows the limit
    binds."""
    script = textwrap.dedent(
        """
        import resource, torch
        from smfa.sculpt import lowrank, lowrank_rows, merge, sculpt, sculpt_streamed
        torch.set_num_threads(1)
        g = torch.Generator().manual_seed(0)
        n, r = 2048, 16
        f = lowrank(torch.randn(r, n, generator=g), torch.randn(n, r, generator=g), 1.0)
        a = lowrank(torch.randn(r, n, generator=g), torch.randn(n, r, generator=g), 1.0)
        W = torch.randn(n, n)
        small = lowrank(torch.randn(r, 64, generator=g), torch.randn(64, r, generator=g), 1.0)
        sculpt_streamed(small, small, 1.0, sink=lambda i, c: None, chunk_rows=16)  # warm up
        used = next(int(line.split()[1]) for line in open("/proc/self/status")
                    if line.startswith("VmData:")) * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (used + 4 * 2**20, resource.RLIM_INFINITY))
        sculpt_streamed(f, a, 1.0, sink=lambda i, c: W[i:i + c.shape[0]].add_(c), chunk_rows=16)
        print("streamed-ok")
        try:
            W.copy_(merge(W, sculpt(lowrank_rows(f, 0, n), lowrank_rows(a, 0, n), 1.0)[0]))
            print("dense-ok")
        except RuntimeError:
            print("dense-over-limit")
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert res.stdout.split() == ["streamed-ok", "dense-over-limit"], res.stdout + res.stderr


# ------------------------------------------------------------------ smfa sculpt, streamed


def _adapters(model_dir, folder):
    """Random (non-zero) MFA and RA LoRAs on the tiny model's language model, saved by peft."""
    from peft import LoraConfig, get_peft_model

    from smfa.models import load

    target = r".*language_model.*\.(q_proj|v_proj|down_proj)"
    for tag, seed in (("mfa", 0), ("ra", 1)):
        model, _ = load(str(model_dir))
        torch.manual_seed(seed)
        lora = LoraConfig(r=4, lora_alpha=8, target_modules=target, init_lora_weights=False)
        get_peft_model(model, lora).save_pretrained(folder / tag)
    return folder / "mfa", folder / "ra"


def test_smfa_sculpt_streams_the_same_delta_merged_model_and_lora(tiny_original, tmp_path):
    from smfa.adapters import adapter_deltas, apply_deltas, sculpt_deltas
    from smfa.io import load_safetensors
    from smfa.models import load
    from smfa.stages.sculpt import sculpt as sculpt_stage

    mfa, ra = _adapters(tiny_original, tmp_path)
    out = sculpt_stage(
        str(mfa), str(ra), str(tmp_path / "out"), k=1.0, merge_into=str(tiny_original), svd_rank=2
    )
    # the reference: today's dense path over the same adapters
    ref = {key: (d, st) for key, d, st in sculpt_deltas(adapter_deltas(mfa), adapter_deltas(ra), 1)}
    delta = load_safetensors(out / "delta.safetensors")
    assert list(delta) == list(ref) and len(ref) == 6  # 2 layers × 3 modules
    for key, (d, _st) in ref.items():
        assert delta[key].dtype == torch.float32  # the adapter's dtype (peft saved float32)
        assert torch.allclose(delta[key], d, rtol=1e-5, atol=1e-7), key
    stats = json.loads((out / "mask_stats.json").read_text())["layers"]
    assert {key: stats[key]["masked"] for key in ref} == {k: v[1]["masked"] for k, v in ref.items()}
    assert all(0 < stats[key]["frac_masked"] < 1 for key in ref)
    # the merged model, shard by shard, equals W_o + ΔW'_f applied in memory
    merged, _ = load(str(out / "merged"))
    expect, _ = load(str(tiny_original))
    apply_deltas(expect, {key: d for key, (d, _) in ref.items()})
    got = dict(merged.named_parameters())
    for name, p in expect.named_parameters():
        assert torch.allclose(got[name], p, rtol=0, atol=1e-6), name
    # the SVD re-factored LoRA (rank 2 of a masked rank-4 update: an approximation)
    err = json.loads((out / "svd.json").read_text())
    assert set(err) == set(ref) and all(0 < e < 1 for e in err.values())
    lora = adapter_deltas(out / "lora")
    assert all(lora[key].shape == delta[key].shape for key in ref)


def test_smfa_sculpt_dtype_follows_the_adapter_and_the_base(tiny_original, tmp_path):
    import yaml

    from smfa.io import load_safetensors, save_safetensors
    from smfa.stages.sculpt import sculpt as sculpt_stage

    mfa, ra = _adapters(tiny_original, tmp_path)
    for folder in (mfa, ra):  # a bf16 adapter (as trained on a GPU in bf16)
        w = load_safetensors(folder / "adapter_model.safetensors")
        save_safetensors(
            folder / "adapter_model.safetensors", {k: v.bfloat16() for k, v in w.items()}
        )
    out = sculpt_stage(
        str(mfa), str(ra), str(tmp_path / "bf16"), k=1.0, merge_into=str(tiny_original)
    )
    delta = load_safetensors(out / "delta.safetensors")
    assert {d.dtype for d in delta.values()} == {torch.bfloat16}
    merged = load_safetensors(out / "merged" / "model.safetensors")
    assert {t.dtype for t in merged.values() if t.is_floating_point()} == {torch.float32}  # base
    f32 = sculpt_stage(
        str(mfa),
        str(ra),
        str(tmp_path / "f32"),
        k=1.0,
        merge_into=str(tiny_original),
        dtype="bfloat16",
    )
    merged = load_safetensors(f32 / "merged" / "model.safetensors")
    assert {t.dtype for t in merged.values() if t.is_floating_point()} == {torch.bfloat16}
    assert json.loads((f32 / "merged" / "config.json").read_text())["dtype"] == "bfloat16"
    f32 = sculpt_stage(str(mfa), str(ra), str(tmp_path / "f32b"), k=1.0, dtype="float32")
    d32 = load_safetensors(f32 / "delta.safetensors")
    assert {d.dtype for d in d32.values()} == {torch.float32}
    for key in delta:  # the bf16 file is the float32 result rounded once
        assert torch.equal(d32[key].bfloat16(), delta[key])
    assert yaml.safe_load((f32 / "config.yaml").read_text())["dtype"] == "float32"


def test_safetensors_writer_streams_rows_and_checks_them(tmp_path):
    from smfa.io import SafetensorsWriter, load_safetensors

    t = {"a": torch.randn(5, 3), "b": torch.randn(4, 2).bfloat16()}
    specs = {k: (v.dtype, tuple(v.shape)) for k, v in t.items()}
    with SafetensorsWriter(tmp_path / "x.safetensors", specs, {"format": "pt"}) as w:
        w.write("a", t["a"][:2])
        w.write("a", t["a"][2:].double())  # cast to the declared dtype
        w.write("b", t["b"])
    back = load_safetensors(tmp_path / "x.safetensors")
    assert all(torch.equal(back[k], t[k]) for k in t)
    with pytest.raises(ValueError, match="unexpected tensor 'b'"):
        SafetensorsWriter(tmp_path / "y.safetensors", specs).write("b", t["b"])
    w = SafetensorsWriter(tmp_path / "z.safetensors", specs)
    w.write("a", t["a"])
    with pytest.raises(ValueError, match="never written"):
        w.close()


def test_saved_views_combined_like_the_dense_path(tmp_path):
    """mfa_views="separate": each view sculpted against the RA, combined chunk by chunk."""
    from smfa.adapters import adapter_deltas, sculpt_deltas, sculpt_saved, sculpted_deltas
    from smfa.io import save_safetensors

    layers = {"m.q_proj": (40, 24), "m.v_proj": (24, 40)}
    for tag, seed in (("img", 1), ("txt", 2), ("ra", 3)):
        (tmp_path / tag).mkdir()
        cfg = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": list(layers)}
        (tmp_path / tag / "adapter_config.json").write_text(json.dumps(cfg))
        tensors = {}
        for i, (mod, (o, n)) in enumerate(layers.items()):
            A, B = factors(o, n, 2, seed * 10 + i)
            tensors[f"base_model.model.{mod}.lora_A.weight"] = A
            tensors[f"base_model.model.{mod}.lora_B.weight"] = B
        save_safetensors(tmp_path / tag / "adapter_model.safetensors", tensors)
    views = [tmp_path / "img", tmp_path / "txt"]
    ra = adapter_deltas(tmp_path / "ra")
    dense = [{k: d for k, d, _ in sculpt_deltas(adapter_deltas(v), ra, 2.0)} for v in views]
    for how in ("mean", "sum"):
        got, stats = sculpt_saved(views, tmp_path / "ra", 2.0, combine=how)
        assert set(stats) == {f"{k}@view{i}" for k in got for i in (0, 1)}
        for key in got:
            ref = combine_deltas([dense[0][key], dense[1][key]], how)
            assert torch.allclose(got[key], ref, rtol=1e-5, atol=1e-7), key
    lazy = sculpted_deltas(views, tmp_path / "ra", 2.0)
    assert list(lazy) == list(got) and len(lazy) == 2 and not lazy.plan.stats  # nothing run yet
    assert torch.equal(
        lazy["m.q_proj.weight"], sculpt_saved(views, tmp_path / "ra", 2.0)[0]["m.q_proj.weight"]
    )
