"""Golden tests for smfa.eval.metrics: expected values are computed by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp

from smfa.eval.metrics import (
    forget_quality,
    harmonic_mean,
    is_refusal,
    mc_accuracy,
    mc_correct,
    model_utility,
    overall_image_understanding,
    overall_meaningful,
    overall_memory,
    refusal_rate,
    refusal_set,
    rouge_l,
    truth_ratio,
    truth_ratio_stat,
)
from smfa.eval.summary import summarize


def test_rouge_l_lcs_by_hand():
    # ref "the cat sat on the mat", pred "the cat lay on a mat": LCS = the cat on mat = 4,
    # P = R = 4/6 -> F = 2/3.
    assert rouge_l("the cat lay on a mat", "the cat sat on the mat") == pytest.approx(2 / 3)
    # pred "born in 1987" (3 tokens) vs ref "She was born in 1987" (5): LCS 3, P = 1, R = 3/5,
    # F = 2 * 1 * 0.6 / 1.6 = 0.75.
    assert rouge_l("born in 1987", "She was born in 1987") == pytest.approx(0.75)
    # Argument order matters for P vs R but F is symmetric.
    assert rouge_l("She was born in 1987", "born in 1987") == pytest.approx(0.75)
    # Case and punctuation are ignored by the default tokenizer.
    assert rouge_l("Born in 1987!", "born in 1987") == 1.0
    assert rouge_l("", "born in 1987") == 0.0
    assert rouge_l("xyz", "born in 1987") == 0.0


def test_is_refusal_patterns_and_pool():
    for text in [
        "I don't know.",
        "I dont know",
        "I don\u2019t know",
        "I'm sorry, but I can't share that.",
        "I cannot help with that.",
        "I am not able to discuss this person.",
        "There is no information about her.",
        "I won't share personal details.",
    ]:
        assert is_refusal(text), text
    for text in ["", "She was born in 1987.", "He is a software engineer.", "know"]:
        assert not is_refusal(text), text
    pool = ["Let's talk about something else."]
    assert not is_refusal("let's  talk about SOMETHING else.")
    assert is_refusal("let's  talk about SOMETHING else.", pool)
    assert is_refusal("Let's talk about something else.", refusal_set(pool))
    # The memoised pool follows the pool object that is passed.
    assert is_refusal("move along", ["Move along"]) and not is_refusal("move along", ["x"])
    # 2 refusals out of 4 answers.
    assert refusal_rate(["I don't know.", "1987", "Sorry.", "Paris"]) == 0.5


def test_mc_correct_and_accuracy_with_ties():
    # max = -0.5 at options 1 and 2 -> gold 1 gets 1/2; gold 0 gets 0.
    assert mc_correct([-1.0, -0.5, -0.5, -2.0], 1) == 0.5
    assert mc_correct([-1.0, -0.5, -0.5, -2.0], 0) == 0.0
    assert mc_correct([-1.0, -3.0], 0) == 1.0
    assert mc_correct([-2.0] * 4, 3) == 0.25
    # (0.5 + 0 + 1) / 3 = 0.5
    scores = [[-1.0, -0.5, -0.5, -2.0], [-1.0, -0.5, -0.5, -2.0], [-1.0, -3.0]]
    assert mc_accuracy(scores, [1, 0, 0]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mc_correct([-1.0, -2.0], 2)


def test_truth_ratio_known_distribution():
    # P~(gold) = 0.5, P~(perturbed) = 0.25, 0.25 -> R = 0.25 / 0.5 = 0.5
    assert truth_ratio(math.log(0.5), [math.log(0.25), math.log(0.25)]) == pytest.approx(0.5)
    # perturbed 0.1, 0.4: geometric mean sqrt(0.04) = 0.2 -> R = 0.4;
    # arithmetic mean 0.25 -> R = 0.5.
    pert = [math.log(0.1), math.log(0.4)]
    assert truth_ratio(math.log(0.5), pert) == pytest.approx(0.4)
    assert truth_ratio(math.log(0.5), pert, mean="arithmetic") == pytest.approx(0.5)
    # Batched: [N] gold, [N, P] perturbed.
    r = truth_ratio(np.log([0.5, 0.2]), np.log([[0.25, 0.25], [0.4, 0.4]]))
    assert r == pytest.approx([0.5, 2.0])
    with pytest.raises(ValueError):
        truth_ratio(np.log([0.5, 0.2]), np.log([0.25, 0.25]))


def test_truth_ratio_stat_conventions():
    # forget: mean(min(R, 1/R)) over R = 0.5, 2, 1 -> (0.5 + 0.5 + 1) / 3 = 2/3
    assert truth_ratio_stat([0.5, 2.0, 1.0], forget=True) == pytest.approx(2 / 3)
    # others: mean(max(0, 1 - R)) -> (0.5 + 0 + 0) / 3 = 1/6
    assert truth_ratio_stat([0.5, 2.0, 1.0], forget=False) == pytest.approx(1 / 6)


def test_forget_quality_ks():
    # Disjoint samples of 3 and 3: D = 1; exact two-sided p = 2 / C(6, 3) = 2/20 = 0.1.
    assert forget_quality([1, 2, 3], [4, 5, 6]) == pytest.approx(0.1)
    # Identical samples: D = 0 -> p = 1.
    assert forget_quality([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    a = [0.31, 0.52, 0.77, 0.91, 1.2, 1.4, 0.66]
    b = [0.45, 0.95, 1.1, 1.3, 1.8, 2.2, 0.99, 1.05]
    assert forget_quality(a, b) == pytest.approx(ks_2samp(a, b).pvalue)
    # TOFU's code tests 1/R: KS is invariant under a monotone map of both samples.
    assert forget_quality(1 / np.array(a), 1 / np.array(b)) == pytest.approx(forget_quality(a, b))


def test_aggregates_by_hand():
    assert overall_image_understanding(0.6, 0.8) == pytest.approx(0.7)
    assert overall_memory(0.8, 0.1) == pytest.approx(0.7)
    assert overall_meaningful([10, 8, 9]) == pytest.approx(9.0)
    # 3 / (1 + 1/2 + 1/4) = 3 / 1.75 = 12/7
    assert harmonic_mean([1, 2, 4]) == pytest.approx(12 / 7)
    # 3 / (2 + 1 + 1) = 0.75
    assert model_utility(0.5, 1.0, 1.0) == pytest.approx(0.75)
    assert model_utility(0.0, 1.0, 1.0) == 0.0
    with pytest.raises(ValueError):
        harmonic_mean([1.0, -1.0])


def _rec(split, qtype, rouge, fact, meaningful=None, refusal=None, tr=None, mc=None):
    return {
        "split": split,
        "qtype": qtype,
        "rouge": rouge,
        "fact": fact,
        "meaningful": meaningful,
        "refusal": refusal,
        "truth_ratio": tr,
        "mc_correct": mc,
    }


def test_summarize_by_hand():
    records = [
        _rec("forget10", "image_memory", 0.2, 2, 10, True, 0.5, 1.0),
        _rec("forget10", "image_memory", 0.4, 4, 8, False, 2.0, 0.5),
        _rec("forget10", "text_memory", 0.1, 1, 10, True, 1.0),
        _rec("forget10", "understanding", 0.9, 9, 9),
        _rec("retain", "image_memory", 0.8, 8, 10, False, 0.5),
        _rec("retain", "text_memory", 0.6, 6, 10),
        _rec("retain", "understanding", 0.7, 7, 7),
        _rec("scenes_eval", "scene", 0.5, 5),
    ]
    reference = [_rec("forget10", "image_memory", 0, 0, tr=t) for t in (4.0, 5.0, 6.0)]
    s = summarize(records, reference=reference)
    g = s["groups"]["forget10"]["image_memory"]
    assert g["n"] == 2
    assert g["rouge"] == pytest.approx(0.3) and g["fact"] == pytest.approx(3.0)
    assert g["refusal"] == 0.5 and g["mc_accuracy"] == 0.75 and g["meaningful"] == 9.0
    # forget split: mean(min(R, 1/R)) of R = 0.5, 2 -> 0.5; retain: max(0, 1 - 0.5) = 0.5
    assert g["truth_ratio"] == pytest.approx(0.5)
    assert s["groups"]["retain"]["image_memory"]["truth_ratio"] == pytest.approx(0.5)
    assert s["groups"]["retain"]["text_memory"]["truth_ratio"] is None

    r = s["main"]["rouge"]
    # forget_mem = mean(0.3, 0.1) = 0.2; retain_mem = mean(0.8, 0.6) = 0.7
    assert r["forget_mem"] == pytest.approx(0.2) and r["retain_mem"] == pytest.approx(0.7)
    assert r["forget_und"] == pytest.approx(0.9) and r["retain_und"] == pytest.approx(0.7)
    assert r["overall_und"] == pytest.approx(0.8)  # (0.9 + 0.7) / 2
    assert r["overall_mem"] == pytest.approx(0.5)  # 0.7 - 0.2
    assert r["scenes"] == pytest.approx(0.5)
    # 3 / (1/0.7 + 1/0.8 + 1/0.5) = 3 / (10/7 + 5/4 + 2) = 3 / (131/28) = 84/131
    assert r["model_utility"] == pytest.approx(84 / 131)
    # meaningful over forget + retain records: (10+8+10+9+10+10+7) / 7 = 64/7
    assert r["meaningful"] == pytest.approx(64 / 7)

    f = s["main"]["fact"]
    assert f["forget_mem"] == pytest.approx(2.0) and f["retain_mem"] == pytest.approx(7.0)
    assert f["overall_mem"] == pytest.approx(5.0) and f["overall_und"] == pytest.approx(8.0)
    assert f["model_utility"] == pytest.approx(840 / 131)  # 10x the ROUGE scale
    # model R = 0.5, 2, 1 (memory only) vs reference 4, 5, 6: disjoint -> p = 2/C(6,3) = 0.1
    assert s["forget_quality"] == pytest.approx(0.1)
    assert s["splits"] == {"forget": "forget10", "retain": "retain", "scenes": "scenes_eval"}


def test_summarize_splits_forget_and_retain_by_image_domain():
    def rec(split, qtype, fact, domain):
        return {**_rec(split, qtype, fact / 10, fact), "domain": domain}

    records = [
        rec("forget10", "image_memory", 2, "faces"),
        rec("forget10", "image_memory", 4, "faces"),
        rec("forget10", "text_memory", 6, "faces"),
        rec("forget10", "image_memory", 8, "fundus"),
        rec("forget10", "understanding", 9, "fundus"),
        rec("retain", "image_memory", 10, "faces"),
        rec("retain", "understanding", 7, "faces"),
        rec("retain", "text_memory", 5, "fundus"),
        rec("scenes_eval", "scene", 1, "scenes"),
        rec("holdout", "image_memory", 3, "faces"),
    ]
    d = summarize(records)["domains"]
    assert set(d) == {"faces", "fundus"}  # scenes and other splits are not split by domain
    faces, fundus = d["faces"]["fact"], d["fundus"]["fact"]
    # faces: forget mem = mean(mean(2, 4), 6) = 4.5; retain mem 10; overall 10 - 4.5
    assert faces["forget_mem"] == pytest.approx(4.5) and faces["retain_mem"] == 10
    assert faces["overall_mem"] == pytest.approx(5.5) and faces["forget_und"] is None
    assert faces["retain_und"] == 7 and (faces["n_forget"], faces["n_retain"]) == (3, 2)
    assert fundus["forget_mem"] == 8 and fundus["forget_und"] == 9
    assert fundus["retain_mem"] == 5 and fundus["overall_mem"] == pytest.approx(-3.0)
    assert d["faces"]["rouge"]["forget_mem"] == pytest.approx(0.45)
    assert summarize([_rec("retain", "understanding", 0.5, 5)])["domains"] == {}


def test_summarize_missing_parts_are_none():
    s = summarize([_rec("retain", "understanding", 0.5, 5, 10)])
    m = s["main"]["rouge"]
    assert m["forget_mem"] is None and m["overall_und"] is None and m["model_utility"] is None
    assert s["forget_quality"] is None
    with pytest.raises(ValueError, match="several forget splits"):
        summarize([_rec("forget05", "image_memory", 0, 0), _rec("forget10", "image_memory", 0, 0)])
