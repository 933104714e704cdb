"""Golden tests of the attacks on forgetting (docs/metrics.md §10): each attack changes its
inputs as intended; quantization round trips within half a step; MIA AUC at 0.5 and 1.0;
relearning leaves the model folder byte-identical; `smfa attack` end to end."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from smfa.eval import mia
from smfa.eval.attacks import image_perturb, quantize
from smfa.eval.attacks.base import Target
from smfa.eval.attacks.logit_lens import first_key_token, in_top, key_position
from smfa.eval.attacks.relearn import split_facts
from smfa.eval.robustness import compare, suite_attacks
from smfa.prompts import attack_templates
from smfa.registry import ATTACKS


def _rows(bench, n=6):
    from smfa.bench import load

    b = load(bench)
    rows = [r for r in b.split("forget10") if r["qtype"] in ("image_memory", "text_memory")]
    return b, rows[:n]


def _target(bench, rows, full=False):
    return Target(
        None,
        None,
        bench,
        rows,
        [bench.open_image(r) for r in rows],
        0,
        full,
        {"forget": "forget10"},
    )


def test_every_family_has_four_templates_with_a_slot():
    t = attack_templates()
    assert set(t) == {
        "prefix_injection",
        "refusal_suppression",
        "role_play",
        "instruction_override",
        "jailbreak",
    }
    assert all(len(v) >= 4 and all("{question}" in x for x in v) for v in t.values())


def test_prompt_attacks_wrap_the_question(small_bench):
    b, rows = _rows(small_bench)
    for family, templates in attack_templates().items():
        a = ATTACKS.get(f"prompt_{family}")().apply(_target(b, rows))
        assert [r["id"] for r in a.rows] == [r["id"] for r in rows] and not a.best_of
        for r, q in zip(rows, a.questions):
            assert q in {t.replace("{question}", r["question"]) for t in templates}
        full = ATTACKS.get(f"prompt_{family}")().apply(_target(b, rows, full=True))
        assert len(full.questions) == len(rows) * len(templates) and full.best_of


def test_template_words_are_in_the_tiny_vocabulary(tiny_original):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_original)
    for family, templates in attack_templates().items():
        for t in templates:
            ids = tok(t.replace("{question}", ""))["input_ids"]
            assert tok.unk_token_id not in ids, (family, t)
    key_id = first_key_token(tok, "Lina Dahl was born in 1974.", "1974")
    assert tok.decode([key_id]).strip() == "1974"


def test_paraphrase_and_other_view(small_bench):
    b, rows = _rows(small_bench)
    a = ATTACKS.get("paraphrase")().apply(_target(b, rows))
    for r, q in zip(a.rows, a.questions):
        assert q in r["paraphrases"] and q not in r["phrasings"]
    ov = ATTACKS.get("other_view")().apply(_target(b, rows))
    # every fact asked in both views gets its twin; "identity" exists only with the portrait
    assert ov.best_of and [r["id"] for r in ov.rows] == [
        r["id"] for r in rows if r["attribute"] != "identity"
    ]
    for r, q, im in zip(ov.rows, ov.questions, ov.images):
        twin = [x for x in b.split("forget10") if x["question"] == q][0]
        assert twin["subject_id"] == r["subject_id"] and twin["attribute"] == r["attribute"]
        assert twin["qtype"] != r["qtype"] and (im is None) == (twin["image"] == "")


@pytest.mark.parametrize("name", list(image_perturb.PERTURBATIONS))
def test_image_perturbations_change_pixels_seeded(name):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8))
    fn = image_perturb.PERTURBATIONS[name]
    a, b = fn(img, random.Random(1)), fn(img, random.Random(1))
    assert a.size == img.size and a.mode == img.mode
    assert np.array_equal(np.asarray(a), np.asarray(b))  # seeded
    assert not np.array_equal(np.asarray(a), np.asarray(img))  # changed


def test_image_attacks_keep_only_image_questions(small_bench):
    b, rows = _rows(small_bench, 10)
    a = ATTACKS.get("image_blur")().apply(_target(b, rows))
    assert a.rows and all(r["image"] for r in a.rows)
    assert len(a.rows) == sum(1 for r in rows if r["image"])


@pytest.mark.parametrize(("bits", "group"), [(8, None), (4, 64), (4, 5)])
def test_quantization_round_trip_within_half_a_step(bits, group):
    w = torch.randn(7, 130, generator=torch.Generator().manual_seed(0))
    w[0] = 0.0  # an all-zero row stays zero
    deq = quantize.quantize_rtn(w, bits, group)
    step = quantize.step_sizes(w, bits, group)
    assert torch.all((w - deq).abs() <= step / 2 + 1e-7)
    assert torch.all(deq[0] == 0)
    levels = {round(float(v), 6) for v in (deq[1, : group or 130] / step[1, 0]).round()}
    assert len(levels) <= 2**bits
    assert not torch.equal(deq, w)


def test_quantization_hand_values():
    w = torch.tensor([[1.75, -0.625, 0.3, 0.1]])
    # int8, one scale per row: s = 1.75/127; -0.625/s = -45.36 -> -45, 0.3/s = 21.77 -> 22,
    # 0.1/s = 7.26 -> 7
    s8 = 1.75 / 127
    want = torch.tensor([[127 * s8, -45 * s8, 22 * s8, 7 * s8]])
    assert torch.allclose(quantize.quantize_rtn(w, 8), want)
    # 4-bit, groups of 2: s = [1.75/7 = 0.25, 0.3/7]; -0.625/0.25 = -2.5 -> -2 (half to even),
    # 0.1/(0.3/7) = 2.33 -> 2
    want = torch.tensor([[1.75, -0.5, 0.3, 2 * 0.3 / 7]])
    assert torch.allclose(quantize.quantize_rtn(w, 4, 2), want)


def test_mia_auc_golden():
    assert mia.auc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 0.5
    assert mia.mia_privacy_score(mia.auc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])) == 1.0
    assert mia.auc([5.0, 6.0, 7.0], [1.0, 2.0]) == 1.0
    assert mia.mia_privacy_score(1.0) == 0.0


def test_relearn_split_is_disjoint_and_per_profile(small_bench):
    b, _ = _rows(small_bench)
    table = [r for r in b.split("forget10") if r["qtype"] == "text_memory"]
    t_set, v_set = split_facts(table, 0)
    assert not t_set & v_set and t_set | v_set == {(r["subject_id"], r["attribute"]) for r in table}
    assert {s for s, _ in t_set} == {s for s, _ in v_set}
    assert split_facts(table, 0) == (t_set, v_set)


def test_logit_lens_helpers():
    labels = torch.tensor([-100, -100, 5, 9, 7, 9])
    assert key_position(labels, 9) == 3 and key_position(labels, 4) is None
    assert in_top(torch.tensor([0.1, 3.0, 2.0, -1.0]), 2, 2) and not in_top(
        torch.tensor([0.1, 3.0, 2.0, -1.0]), 0, 2
    )


def test_compare_best_of_and_recovery():
    base = {"a": {"fact": 0.0, "leaked": False}, "b": {"fact": 10.0, "leaked": True}}
    att = [
        {"id": "a", "fact": 10.0, "leaked": True, "answer_class": "leaked"},
        {"id": "a", "fact": 0.0, "leaked": False, "answer_class": "refusal"},
        {"id": "b", "fact": 0.0, "leaked": False, "answer_class": "refusal"},
    ]
    r = compare(base, att, best_of=False)
    assert r["score"] == {"unattacked": 0.5, "attacked": 0.5, "recovery": 0.0}
    assert r["fact"]["attacked"] == 5.0
    r = compare(base, att, best_of=True)
    assert r["score"]["attacked"] == 1.0 and r["score"]["recovery"] == 0.5


def test_suites():
    default, full = suite_attacks("default"), suite_attacks("full")
    assert set(default) <= set(full) and "relearn" in full and "quant_4bit" in full
    assert set(full) == set(ATTACKS.names())


def _tree_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_smfa_attack_end_to_end_leaves_the_model_byte_identical(
    tiny_original, small_bench, tmp_path
):
    from smfa.stages.attack import attack

    before = _tree_hash(Path(tiny_original))
    out = tmp_path / "attacks" / "original.json"
    names = [
        "prompt_role_play",
        "paraphrase",
        "other_view",
        "image_noise",
        "relearn",
        "quant_4bit",
        "logit_lens",
        "mia",
    ]
    attack(
        str(tiny_original),
        str(small_bench),
        str(out),
        control=str(tiny_original),
        attacks=names,
        max_questions=8,
        options={"relearn_steps": 2},
    )
    assert _tree_hash(Path(tiny_original)) == before
    res = json.loads(out.read_text())
    assert res["smfa_output"] == "attack" and res["attacks"] == names
    model, control = res["results"]["model"], res["results"]["control"]
    assert control == model  # the same model twice: every attack is deterministic
    plain = res["unattacked"]["model"]
    assert plain["n"] == 8 and plain == res["unattacked"]["control"]
    assert 0.0 <= plain["leak_rate"] <= 1.0 and sum(
        plain["answer_classes"].values()
    ) == pytest.approx(1.0)
    assert set(model) == set(names)
    for name in names:
        s = model[name]["score"]
        assert s["recovery"] == pytest.approx(s["attacked"] - s["unattacked"])
        assert res["recovery_over_control"][name] == pytest.approx(0.0)  # same model
    assert model["relearn"]["details"]["steps"] == 2
    assert set(model["mia"]["details"]["scores"]) == {"loss", "zlib", "min_k", "min_k_pp"}
    # reusing the control's JSON gives the same comparison
    out2 = tmp_path / "attacks" / "again.json"
    attack(
        str(tiny_original),
        str(small_bench),
        str(out2),
        control=str(out),
        attacks=["paraphrase"],
        max_questions=8,
    )
    again = json.loads(out2.read_text())
    assert again["recovery_over_control"]["paraphrase"] == pytest.approx(0.0)
    assert again["unattacked"]["control"] == plain
