"""The training loop: learns, resumes after a crash with identical weights, validates config."""

from __future__ import annotations

import random

import pytest
import torch

from smfa.config import TrainConfig
from smfa.data import original_samples
from smfa.train import StreamOrder, fit, group_by_length, lr_at, nll_loss_fn, param_groups

torch.set_num_threads(1)


def _model(tiny_original):
    from smfa.models import load

    return load(str(tiny_original))


def _samples(small_bench):
    from smfa.bench import load

    return original_samples(load(small_bench))[:64]


def test_stream_order_is_a_pure_function_of_seed_and_position():
    a, b = StreamOrder(10, seed=3), StreamOrder(10, seed=3)
    first = a.indices(0, 25)
    assert first == b.indices(0, 25)
    assert sorted(first[:10]) == list(range(10))  # each epoch is a permutation
    assert b.indices(13, 5) == first[13:18]  # resuming mid-epoch gives the same order


def test_group_by_length_hand_example():
    lengths = [5, 1, 4, 2, 3, 6]
    perm = [0, 1, 2, 3, 4, 5]
    # one chunk of 3 batches of 2: sorted longest first → [5, 0], [2, 4], [3, 1]
    out = group_by_length(perm, lengths, batch_size=2, rng=random.Random(0), chunk=3)
    batches = [out[i : i + 2] for i in range(0, 6, 2)]
    assert sorted(map(tuple, batches)) == [(2, 4), (3, 1), (5, 0)]
    assert sorted(out) == perm


def test_grouped_stream_order_is_resumable_and_less_padded():
    rng = random.Random(1)
    lengths = [rng.randint(10, 50) for _ in range(256)]
    a = StreamOrder(256, seed=3, lengths=lengths, batch_size=8)
    b = StreamOrder(256, seed=3, lengths=lengths, batch_size=8)
    first = a.indices(0, 512)
    assert sorted(first[:256]) == list(range(256))  # still a permutation per epoch
    assert b.indices(40, 16) == first[40:56]  # resuming mid-epoch gives the same order
    plain = StreamOrder(256, seed=3).indices(0, 256)

    def padded(order):
        return sum(max(lengths[j] for j in order[i : i + 8]) * 8 for i in range(0, 256, 8))

    assert padded(first[:256]) < 0.85 * padded(plain)


def test_lr_schedule_hand_values():
    cfg = TrainConfig(lr=1.0, warmup_ratio=0.2, schedule="cosine")
    # total 10: 2 warm-up steps (0.5, 1.0), then cosine over 8 steps
    assert lr_at(0, 10, cfg) == pytest.approx(0.5)
    assert lr_at(1, 10, cfg) == pytest.approx(1.0)
    assert lr_at(2, 10, cfg) == pytest.approx(1.0)
    assert lr_at(6, 10, cfg) == pytest.approx(0.5)  # halfway through the cosine
    lin = TrainConfig(lr=2.0, schedule="linear")
    assert lr_at(5, 10, lin) == pytest.approx(1.0)


def test_training_lowers_the_loss(tiny_original, small_bench, tmp_path):
    model, proc = _model(tiny_original)
    cfg = TrainConfig(full_finetune=True, max_steps=12, batch_size=8, lr=2e-3)
    _, log = fit(model, proc, {"train": _samples(small_bench)}, nll_loss_fn("train"), cfg, tmp_path)
    assert len(log) == 12
    assert sum(r["loss"] for r in log[-3:]) < sum(r["loss"] for r in log[:3])


def test_killed_run_resumes_from_checkpoint_with_identical_result(
    tiny_original, small_bench, tmp_path
):
    data = {"train": _samples(small_bench)}
    cfg = TrainConfig(
        full_finetune=True,
        max_steps=8,
        batch_size=4,
        lr=1e-3,
        checkpoint_every=3,
        schedule="cosine",
        warmup_ratio=0.25,
    )

    ref_model, proc = _model(tiny_original)
    ref_model, ref_log = fit(ref_model, proc, data, nll_loss_fn("train"), cfg, tmp_path / "ref")

    calls = {"n": 0}

    def crashing(model, batches):
        calls["n"] += 1
        if calls["n"] == 6:  # dies during step 6, after the checkpoint of step 3
            raise KeyboardInterrupt
        return nll_loss_fn("train")(model, batches)

    model, proc = _model(tiny_original)
    with pytest.raises(KeyboardInterrupt):
        fit(model, proc, data, crashing, cfg, tmp_path / "run")
    assert (tmp_path / "run" / "checkpoint" / "state.json").is_file()

    model, proc = _model(tiny_original)  # a fresh process would start from the same files
    model, log = fit(model, proc, data, nll_loss_fn("train"), cfg, tmp_path / "run")
    assert [r["step"] for r in log] == list(range(1, 9))
    assert [r["loss"] for r in log[3:]] == pytest.approx([r["loss"] for r in ref_log[3:]], abs=1e-5)
    for (n, p), (_, q) in zip(model.named_parameters(), ref_model.named_parameters()):
        assert torch.allclose(p, q, atol=1e-6), n


def test_checkpoint_of_other_settings_is_not_resumed(tiny_original, small_bench, tmp_path):
    data = {"train": _samples(small_bench)}
    cfg = TrainConfig(full_finetune=True, max_steps=4, batch_size=4, checkpoint_every=2)
    model, proc = _model(tiny_original)

    calls = {"n": 0}

    def crash_at_3(model, batches):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return nll_loss_fn("train")(model, batches)

    with pytest.raises(KeyboardInterrupt):
        fit(model, proc, data, crash_at_3, cfg, tmp_path)
    other = TrainConfig(full_finetune=True, max_steps=4, batch_size=4, lr=5e-4)
    model, proc = _model(tiny_original)
    _, log = fit(model, proc, data, nll_loss_fn("train"), other, tmp_path)
    assert [r["step"] for r in log] == [1, 2, 3, 4]  # started over


def test_lr_scale_groups_parameters_by_name():
    net = torch.nn.ModuleDict(
        {
            "vision_tower": torch.nn.Linear(2, 2),
            "proj": torch.nn.Linear(2, 2),
            "lm": torch.nn.Linear(2, 2),
        }
    )
    groups = param_groups(net, {"vision_tower": 0.1, "proj": 0})
    assert [(g["lr_scale"], len(g["params"])) for g in groups] == [(0.1, 2), (1.0, 2)]
    assert not net["proj"].weight.requires_grad  # 0 freezes
    assert groups[0]["params"][0] is net["vision_tower"].weight


def test_lr_scale_trains_each_group_at_its_rate(tiny_original, small_bench, tmp_path):
    """One SGD-like Adam step moves each weight by about its group's lr (Adam's first step)."""
    model, proc = _model(tiny_original)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = TrainConfig(
        full_finetune=True,
        max_steps=1,
        batch_size=8,
        lr=1e-3,
        grad_clip=0.0,
        lr_scale={"vision_tower": 0.1, "multi_modal_projector": 0.0},
    )
    fit(model, proc, {"train": _samples(small_bench)}, nll_loss_fn("train"), cfg, tmp_path)
    moved = {n: float((p.detach() - before[n]).abs().max()) for n, p in model.named_parameters()}
    vision = max(v for n, v in moved.items() if "vision_tower" in n)
    language = max(v for n, v in moved.items() if "language_model" in n)
    assert vision == pytest.approx(1e-4, rel=0.05)  # Adam's first step is lr · sign(g)
    assert language == pytest.approx(1e-3, rel=0.05)
    assert all(v == 0 for n, v in moved.items() if "multi_modal_projector" in n)


@pytest.mark.parametrize(
    "field,value",
    [
        ("lr_scale", {"vision_tower": -1}),
        ("epochs", 0),
        ("batch_size", 0),
        ("lr", -1.0),
        ("schedule", "step"),
        ("warmup_ratio", 1.0),
    ],
)
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})
