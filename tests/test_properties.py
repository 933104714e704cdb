"""Property-based tests (hypothesis) of the mask functions, the question formatter and the
benchmark validator, plus a short fuzz run of the benchmark loader on mutated files."""

from __future__ import annotations

import json
import random
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smfa.sculpt import conflict_mask, masks, sculpt

SETTINGS = dict(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Entries that are exact in float32 (small dyadic numbers) so that scaling by powers of two is
# exact and the properties hold bit for bit.
entry = st.integers(-64, 64).map(lambda v: v / 8)
shape = st.tuples(st.integers(1, 5), st.integers(1, 5))


@st.composite
def pair(draw):
    rows, cols = draw(shape)
    f = draw(st.lists(entry, min_size=rows * cols, max_size=rows * cols))
    a = draw(st.lists(entry, min_size=rows * cols, max_size=rows * cols))
    return torch.tensor(f).reshape(rows, cols), torch.tensor(a).reshape(rows, cols)


ks = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 5.0, 1e3, float("inf")])


@settings(**SETTINGS)
@given(pair(), ks, ks)
def test_mask_shrinks_as_k_grows(fa, k1, k2):
    f, a = fa
    lo, hi = sorted((k1, k2))
    m_lo, m_hi = masks(f, a, lo).M, masks(f, a, hi).M
    assert not (m_hi & ~m_lo).any()  # M(k_hi) ⊆ M(k_lo)


@settings(**SETTINGS)
@given(pair(), ks)
def test_mask_is_inside_the_conflict_and_limits_hold(fa, k):
    f, a = fa
    m = masks(f, a, k)
    assert not (m.M & ~m.C).any()
    assert torch.equal(m.C, conflict_mask(f, a))
    assert torch.equal(masks(f, a, 0.0).M, m.C)  # k = 0: C only
    assert not masks(f, a, float("inf")).M.any()  # k = ∞: raw MFA
    out, M, _ = sculpt(f, a, k)
    assert torch.equal(out, torch.where(M, torch.zeros_like(f), f))  # entries kept or zeroed


@settings(**SETTINGS)
@given(pair(), ks, st.sampled_from([0.25, 0.5, 2.0, 4.0]), st.sampled_from([0.5, 2.0, 8.0]))
def test_mask_does_not_depend_on_the_scale_of_either_update(fa, k, alpha, beta):
    """ρ normalises the scales: M(αΔW_f, βΔW_a) = M(ΔW_f, ΔW_a) (powers of two are exact)."""
    f, a = fa
    assert torch.equal(masks(alpha * f, beta * a, k).M, masks(f, a, k).M)


@settings(**SETTINGS)
@given(pair(), ks, st.sampled_from(["cr", "c", "r", "none"]))
def test_criteria_are_set_operations_of_c_and_r(fa, k, criteria):
    f, a = fa
    m = masks(f, a, k, criteria)
    expected = {"cr": m.C & m.R, "c": m.C, "r": m.R, "none": torch.zeros_like(m.C)}[criteria]
    assert torch.equal(m.M, expected)


# -- the question formatter ---------------------------------------------------------------------

WORDS = "who is this person where was she born what is her name Alice Smith Paris in . ?".split()


@pytest.fixture(scope="module")
def tiny_processor(tmp_path_factory):
    from smfa.models import load, tiny

    path = tiny.build(tmp_path_factory.mktemp("fmt") / "m", [" ".join(WORDS)], seed=0)
    return load(str(path))[1]


@settings(**SETTINGS)
@given(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=8),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=8),
    st.booleans(),
)
def test_labels_cover_exactly_the_answer(tiny_processor, q, a, with_image):
    """The labelled tokens decode to the answer (plus the end-of-turn token); the prompt,
    image tokens included, is never labelled."""
    from PIL import Image

    from smfa.models.format import IGNORE_INDEX, encode

    image = Image.new("RGB", (32, 32), (200, 10, 10)) if with_image else None
    question, answer = " ".join(q), " ".join(a)
    enc = encode(tiny_processor, image, question, answer)
    labels, ids = enc["labels"][0], enc["input_ids"][0]
    keep = labels != IGNORE_INDEX
    assert keep.any() and not keep[: int(keep.nonzero()[0])].any()  # one block at the end
    assert torch.equal(labels[keep], ids[keep])
    text = tiny_processor.tokenizer.decode(ids[keep], skip_special_tokens=True)
    assert text.strip() == answer
    prompt = encode(tiny_processor, image, question)["input_ids"][0]
    assert torch.equal(ids[: len(prompt)], prompt)  # the generation prompt is the prefix


# -- the benchmark validator and loader ----------------------------------------------------------

FIELDS = ["id", "subject_id", "qtype", "question", "answer", "keys", "options", "answer_index"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(["forget05", "retain", "holdout", "scenes_eval"]),
    st.sampled_from(FIELDS),
    st.sampled_from(["drop", "null", "number", "list"]),
)
def test_validator_names_the_file_and_field_of_any_broken_row(
    small_bench, tmp_path_factory, split, field, how
):
    from smfa.bench import find_problems

    bench = tmp_path_factory.mktemp("prop") / "b"
    shutil.copytree(small_bench, bench)
    path = bench / "data" / f"{split}.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    row = rows[0]
    if how == "drop":
        del row[field]
    else:
        row[field] = {"null": None, "number": 7, "list": [1, 2]}[how]
        if how == "number" and field == "answer_index":
            row[field] = 99
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = find_problems(bench)
    assert problems
    assert any(f"data/{split}.jsonl" in p for p in problems), problems[:3]


def test_fuzzed_benchmark_files_never_crash_the_loader(small_bench, tmp_path):
    """200 random byte mutations of the benchmark's JSON files: validation reports problems
    (never raises) and loading refuses with a one-line SmfaError (never a traceback)."""
    from smfa.bench import find_problems, load_valid
    from smfa.errors import SmfaError

    rnd = random.Random(0)
    targets = [
        "manifest.json",
        "profiles.jsonl",
        "attributes.json",
        "refusals.json",
        "data/forget10.jsonl",
        "data/retain.jsonl",
        "data/scenes_eval.jsonl",
    ]
    bench = tmp_path / "b"
    for i in range(200):
        if bench.exists():
            shutil.rmtree(bench)
        shutil.copytree(small_bench, bench)
        rel = targets[i % len(targets)]
        data = bytearray((bench / rel).read_bytes())
        for _ in range(rnd.randint(1, 8)):
            op, pos = rnd.random(), rnd.randrange(len(data))
            if op < 0.4:
                data[pos] = rnd.randrange(256)
            elif op < 0.7:
                del data[pos : pos + rnd.randint(1, 40)]
            else:
                data[pos:pos] = bytes(rnd.choice(b'{}[]",:0123456789nul\n ') for _ in range(3))
        (bench / rel).write_bytes(bytes(data))
        problems = find_problems(bench)  # must not raise
        assert isinstance(problems, list)
        if problems:
            with pytest.raises(SmfaError) as e:
                load_valid(bench)
            assert "\n" not in str(e.value)
