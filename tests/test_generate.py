"""Batched greedy generation (left padding, KV cache) equals one-at-a-time generation."""

from __future__ import annotations

import torch

torch.set_num_threads(1)


def test_batched_generation_equals_one_at_a_time(tiny_original, small_bench):
    from smfa.bench import load
    from smfa.data import ImageCache
    from smfa.eval.generate import generate_answers
    from smfa.models import load as load_model

    b = load(small_bench)
    rows = b.split("forget10")[:12] + b.split("scenes_eval")[:6]  # image and text questions
    img = ImageCache()
    items = [(img.of(b, r), r["question"]) for r in rows]
    assert any(i[0] is None for i in items) and any(i[0] is not None for i in items)
    model, proc = load_model(str(tiny_original))
    batched = generate_answers(model, proc, items, batch_size=8, max_new_tokens=12)
    single = [
        generate_answers(model, proc, [it], batch_size=1, max_new_tokens=12)[0] for it in items
    ]
    assert batched == single
    assert all(isinstance(a, str) for a in batched)
