"""Log-likelihoods from a shared prompt (KV cache) equal the full-sequence ones.

``grouped_answer_logprobs`` runs each prompt once and scores its answers from the cache;
``answer_logprobs`` scores every (prompt, answer) as its own sequence. Same numbers (1e-5) on
the trained tiny model (benchmark rows, image and text questions) and on tiny random Gemma-3
and Qwen2-VL models (Qwen2-VL's multi-axis positions take the full-sequence path).
"""

import pytest
import torch
from PIL import Image
from tiny_families import build_gemma3, build_qwen2_vl

from smfa.eval.generate import answer_logprobs, grouped_answer_logprobs
from smfa.eval.runner import logprob_evidence, row_images
from smfa.models import load
from smfa.models.format import IGNORE_INDEX, continuation_ids, encode
from smfa.models.forward import shares_prefix

torch.set_num_threads(1)
TOL = 1e-5

RED = Image.new("RGB", (40, 30), (200, 10, 10))
GROUPS = [
    (RED, "who is this person ?", ["Alice Smith .", "Bob", "I do not know ."]),
    (None, "where was Alice Smith born ?", ["she was born in Paris .", "Paris", "London ."]),
    (RED, "what is her name ?", ["Alice", "she is Alice Smith and she was born in Paris ."]),
]


def _flat(groups):
    return [(im, q, a) for im, q, answers in groups for a in answers]


@pytest.fixture(scope="module")
def tiny_rows(small_bench, tiny_original):
    from smfa.bench import load as load_bench
    from smfa.data import ImageCache

    net, proc = load(str(tiny_original))
    b = load_bench(small_bench)
    forget = b.split("forget10")
    rows = [
        r
        for q in ("image_memory", "text_memory", "understanding")
        for r in forget
        if r["qtype"] == q
    ][::4][:9]
    rows += b.split("scenes_eval")[:3]
    return net, proc, rows, row_images(b, rows, ImageCache())


def test_continuation_ids_are_the_trained_answer_tokens(tiny_rows):
    _, proc, rows, imgs = tiny_rows
    groups = [
        (r["question"], im is not None, [r["answer"], *r["perturbed"]]) for r, im in zip(rows, imgs)
    ]
    for r, im, (_, _, answers), got in zip(rows, imgs, groups, continuation_ids(proc, groups)):
        assert len(got) == len(answers)
        for a, ids in zip(answers, got):
            enc = encode(proc, im, r["question"], a)
            labels = enc["labels"][0]
            assert ids == labels[labels != IGNORE_INDEX].tolist()


@pytest.mark.parametrize("batch_size", [64, 4])
def test_shared_prefix_equals_full_sequences_on_the_tiny_model(tiny_rows, batch_size):
    net, proc, rows, imgs = tiny_rows
    assert shares_prefix(net) and any(im is None for im in imgs) and any(imgs)
    old = logprob_evidence(net, proc, rows, imgs, batch_size, shared_prefix=False)
    new = logprob_evidence(net, proc, rows, imgs, batch_size)
    assert len(old) == len(new) == len(rows)
    for o, n, r in zip(old, new, rows):
        assert len(n["option_logprobs"]) == len(r["options"])
        assert len(n["perturbed_logprobs"]) == len(r["perturbed"])
        assert n["gold_logprob"] == pytest.approx(o["gold_logprob"], abs=TOL)
        assert n["option_logprobs"] == pytest.approx(o["option_logprobs"], abs=TOL)
        assert n["perturbed_logprobs"] == pytest.approx(o["perturbed_logprobs"], abs=TOL)
        assert o["gold_logprob"] < 0


@pytest.mark.parametrize("build", [build_gemma3, build_qwen2_vl], ids=["gemma3", "qwen2_vl"])
def test_shared_prefix_equals_full_sequences_on_real_families(build, tmp_path):
    net, proc = load(str(build(tmp_path / "model")))
    assert shares_prefix(net) == (build is build_gemma3)
    old = answer_logprobs(net, proc, _flat(GROUPS), batch_size=4)
    new = grouped_answer_logprobs(net, proc, GROUPS, batch_size=2)
    assert [len(g) for g in new] == [len(a) for _, _, a in GROUPS]
    assert [v for g in new for v in g] == pytest.approx(old, abs=TOL)
