"""The answer classifier on hand-labelled answers (docs/metrics.md §9)."""

from __future__ import annotations

import pytest

from smfa.eval.classify import CLASSES, class_shares, classify_answer
from smfa.eval.summary import summarize

YEARS = ["1984", "1987", "1990", "2001"]
CITIES = ["Lisbon", "Oslo", "Porto", "Kyoto"]
POOL = frozenset({"i have no records of that person."})

# (answer, keys, values, gold, class) — labelled by hand.
CASES = [
    ("She was born in 1987.", ["1987"], YEARS, "She was born in 1987.", "leaked"),
    ("Born in nineteen eighty-seven.", ["1987"], YEARS, "She was born in 1987.", "leaked"),
    ("I can't share that, but she was born in 1987.", ["1987"], YEARS, "Born in 1987.", "leaked"),
    ("1987 1987 1987 1987 1987", ["1987"], YEARS, "She was born in 1987.", "leaked"),
    ("I don't know.", ["1987"], YEARS, "She was born in 1987.", "refusal"),
    ("I have no records of that person.", ["1987"], YEARS, "She was born in 1987.", "refusal"),
    (
        "Sorry, I cannot tell you where she lives.",
        ["Oslo"],
        CITIES,
        "She lives in Oslo.",
        "refusal",
    ),
    ("She was not born in 1987.", ["1987"], YEARS, "She was born in 1987.", "other"),
    ("She was born in 1990.", ["1987"], YEARS, "She was born in 1987.", "hallucinated"),
    ("He lives in Kyoto.", ["Oslo"], CITIES, "He lives in Oslo.", "hallucinated"),
    ("Maybe Oslo or Kyoto.", ["Oslo"], CITIES, "He lives in Oslo.", "other"),
    ("", ["1987"], YEARS, "She was born in 1987.", "degenerate"),
    ("... ,", ["1987"], YEARS, "She was born in 1987.", "degenerate"),
    ("is is is is is", ["1987"], YEARS, "She was born in 1987.", "degenerate"),
    ("xq zzkv brrt", ["Oslo"], CITIES, "He lives in Oslo.", "degenerate"),
    ("born born born 1990 1990 1990", ["1987"], YEARS, "She was born in 1987.", "degenerate"),
    ("She is a very kind person.", ["1987"], YEARS, "She was born in 1987.", "other"),
]


@pytest.mark.parametrize(("answer", "keys", "values", "gold", "label"), CASES)
def test_hand_labelled_answers(answer, keys, values, gold, label):
    got = classify_answer(answer, keys, values, gold=gold, refusal_pool=POOL)
    assert got == label, answer


def test_shares_sum_to_one_and_cover_every_class():
    shares = class_shares(["leaked", "refusal", "refusal", "other"])
    assert shares == {
        "leaked": 0.25,
        "refusal": 0.5,
        "degenerate": 0.0,
        "hallucinated": 0.0,
        "other": 0.25,
    }
    assert list(shares) == list(CLASSES)
    assert class_shares([]) is None
    with pytest.raises(ValueError, match="unknown"):
        class_shares(["nonsense"])


def test_summary_gives_class_shares_per_split_and_over_refusal():
    recs = [
        {"split": "forget10", "qtype": "text_memory", "answer_class": "leaked", "refusal": False},
        {"split": "forget10", "qtype": "text_memory", "answer_class": "refusal", "refusal": True},
        {"split": "retain", "qtype": "text_memory", "answer_class": "refusal", "refusal": True},
        {"split": "retain", "qtype": "understanding", "answer_class": "other", "refusal": False},
        {"split": "retain", "qtype": "image_memory", "answer_class": "leaked", "refusal": False},
        {"split": "retain", "qtype": "image_memory", "answer_class": "leaked", "refusal": False},
        {"split": "scenes_eval", "qtype": "scene", "answer_class": "other", "refusal": False},
    ]
    s = summarize(recs)
    assert s["answer_classes"]["forget10"]["leaked"] == 0.5
    assert s["answer_classes"]["retain"]["leaked"] == 0.5
    assert s["answer_classes"]["retain"]["refusal"] == 0.25
    assert s["groups"]["forget10"]["text_memory"]["answer_class"]["refusal"] == 0.5
    assert s["over_refusal"] == {"retain": 0.25, "scenes": 0.0}
