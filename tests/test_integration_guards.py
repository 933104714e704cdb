"""Guards where separately built features meet: dense full-fine-tuning folders reused by a
LoRA-only method, LoRA export of a delta with non-linear layers, re-sculpting full-FT requests,
MANU's choice of MLP blocks (language model only, Qwen's `visual` tower left out)."""

from __future__ import annotations

import pytest
import torch

from smfa.errors import SmfaError
from smfa.registry import METHODS


def _dense_run(tmp_path):
    for tag in ("mfa", "anchor"):
        (tmp_path / "adapters" / tag).mkdir(parents=True)
        (tmp_path / "adapters" / tag / "delta.safetensors").write_bytes(b"")
    return tmp_path


def test_dense_adapters_are_reused_only_by_a_method_that_reads_them(tmp_path):
    from smfa.stages.unlearn import reusable_adapters

    src = _dense_run(tmp_path)
    for name in ("idk", "ties"):
        with pytest.raises(SmfaError, match="full fine-tuning delta; method .* LoRA adapters only"):
            reusable_adapters(name, METHODS.get(name)(), str(src))
    found = reusable_adapters("smfa", METHODS.get("smfa")(), str(src))
    assert set(found) == {"mfa", "anchor"}


def test_lora_export_refuses_non_linear_layers(tmp_path):
    from smfa.stages.export import _check_lora_exportable

    _check_lora_exportable(tmp_path, {"m.layers.0.q_proj.weight": torch.zeros(4, 3)})
    for key, value in (
        ("m.layers.0.input_layernorm.weight", torch.zeros(4)),
        ("m.layers.0.mlp.fc1.bias", torch.zeros(4)),
        ("m.embed_tokens.weight", torch.zeros(10, 4)),
        ("lm_head.weight", torch.zeros(10, 4)),
    ):
        with pytest.raises(SmfaError, match=f"layer '{key}'.*--merged"):
            _check_lora_exportable(tmp_path, {key: value})


def test_resculpt_ledger_refuses_full_fine_tuning():
    from smfa.config import TrainConfig
    from smfa.ledger.requests import check_resculpt
    from smfa.methods.smfa import SMFAOptions

    check_resculpt("smfa", SMFAOptions(), TrainConfig())
    with pytest.raises(SmfaError, match="full_finetune"):
        check_resculpt("smfa", SMFAOptions(), TrainConfig(full_finetune=True))


def test_manu_takes_the_language_model_mlps_only():
    from smfa.methods.manu import mlp_blocks

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj = torch.nn.Linear(2, 4)
            self.up_proj = torch.nn.Linear(2, 4)
            self.down_proj = torch.nn.Linear(4, 2)

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = MLP()

    net = torch.nn.Module()
    net.visual = torch.nn.ModuleList([Block()])  # Qwen2.5-VL's vision tower
    net.vision_tower = torch.nn.ModuleList([Block()])
    net.language_model = torch.nn.ModuleList([Block(), Block()])
    assert sorted(mlp_blocks(net)) == ["language_model.0.mlp", "language_model.1.mlp"]


def test_smfa_sculpt_takes_full_fine_tuning_folders(tmp_path):
    """`smfa sculpt` on dense MFA/RA folders = the dense sculpt of the same deltas."""
    from smfa.adapters import sculpt_dense, write_delta
    from smfa.io import load_safetensors
    from smfa.stages.sculpt import sculpt

    g = torch.Generator().manual_seed(0)
    keys = ("m.layers.0.q_proj.weight", "m.layers.0.mlp.down_proj.weight")
    mfa = {k: torch.randn(6, 5, generator=g) for k in keys}
    anchor = {k: torch.randn(6, 5, generator=g) for k in keys}
    for name, d in (("mfa", mfa), ("anchor", anchor)):
        (tmp_path / name).mkdir()
        write_delta(tmp_path / name, d, name)
    out = sculpt(str(tmp_path / "mfa"), str(tmp_path / "anchor"), str(tmp_path / "out"), k=1.0)
    got = load_safetensors(out / "delta.safetensors")
    want, _ = sculpt_dense([mfa], anchor, 1.0)
    assert set(got) == set(want)
    for k in want:
        assert torch.equal(got[k], want[k])
    assert 0 < sum(int((got[k] == 0).sum()) for k in got) < sum(v.numel() for v in got.values())
    with pytest.raises(SmfaError, match="svd_rank"):
        sculpt(str(tmp_path / "mfa"), str(tmp_path / "anchor"), str(tmp_path / "o2"), svd_rank=2)
    assert not (tmp_path / "o2").exists()
