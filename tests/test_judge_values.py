"""The rule judge's reading of answers: value normalisation (values.py), synonyms of the
benchmark vocabulary (synonyms.py) and mention statuses (mentions.py), on hand-computed cases."""

from __future__ import annotations

from fractions import Fraction

import pytest

from smfa.bench.write import attributes
from smfa.eval.judges import RuleJudge, mentions, synonyms
from smfa.eval.judges import values as V


@pytest.mark.parametrize(
    "digits, suffix, value",
    [
        ("1984", "", 1984),
        ("1,984", "", 1984),
        ("86,000", "", 86000),
        ("86,000.00", "", 86000),
        ("86", "k", 86000),
        ("0.086", "m", 86000),  # 0.086 × 10^6
        ("1.5", "", Fraction(3, 2)),
        ("1.2", "bn", 1_200_000_000),
        ("1,23", "", None),  # not a thousands grouping
        ("12,3456", "", None),
        ("86", "x", None),
    ],
)
def test_parse_number(digits, suffix, value):
    assert V.parse_number(digits, suffix) == value


def test_number_text():
    assert V.number_text(Fraction(86000)) == "86000"
    assert V.number_text(Fraction(3, 2)) == "1.5"
    assert V.number_text(Fraction("0.250")) == "0.25"


@pytest.mark.parametrize(
    "words, value",
    [
        ("three", 3),
        ("twenty one", 21),
        ("twenty", 20),
        ("nineteen", 19),
        ("eighty six thousand", 86000),  # 86 × 1000
        ("one hundred and twenty", 120),
        ("one hundred and twenty thousand", 120000),  # (100 + 20) × 1000
        ("two thousand five", 2005),
        ("two thousand and five", 2005),
        ("nineteen eighty four", 1984),  # year form: 19 | 84
        ("nineteen fifty", 1950),
        ("twenty twenty one", 2021),  # 20 | 21
        ("nineteen hundred eighty four", 1984),  # 19 × 100 + 84
        ("five six", None),
        ("hundred", None),
        ("thousand thousand", None),
        ("three and", None),
    ],
)
def test_words_to_number(words, value):
    assert V.words_to_number(words.split()) == value


def test_resolve_short_year_needs_one_candidate():
    years = {str(y) for y in range(1950, 2006)}
    assert V.resolve_short_year("'84", years) == "1984"
    assert V.resolve_short_year("'03", years) == "2003"
    assert V.resolve_short_year("'49", years) is None  # neither 1949 nor 2049 is a value
    assert V.resolve_short_year("'84", {"1884", "1984"}) is None  # ambiguous


def test_normalize():
    assert V.normalize("Kraków’s Zürich") == "krakow's zurich"
    assert V.normalize("O\u2212") == "o-"
    assert V.normalize("86\u202f000") == "86,000"
    assert V.normalize("- **Hair:** brown\n# Title") == "**hair:** brown\ntitle"
    # A numbered marker is a list only when two lines carry one; "3. ..." alone stays.
    assert V.normalize("1. Hair\n2. Eyes") == "hair\neyes"
    assert V.normalize("3. There are three.") == "3. there are three."


def _texts(text):
    return [(t.text, t.kind) for t in V.tokens(text)]


def test_tokens():
    assert _texts("$86k, or $0.086M.") == [
        ("86000", "number"), (",", "pause"), ("or", "word"), ("86000", "number"), (".", "stop"),
    ]  # fmt: skip
    assert _texts("86 thousand dollars") == [("86000", "number"), ("dollars", "word")]
    assert _texts("Dr. Weber's A+?") == [
        ("dr", "word"), ("weber", "word"), ("a+", "word"), ("?", "stop"),
    ]  # fmt: skip
    assert _texts("born in '84") == [("born", "word"), ("in", "word"), ("'84", "year2")]
    assert _texts("the one on the left, one of them, a single lesion") == [
        ("the", "word"), ("one", "word"), ("on", "word"), ("the", "word"), ("left", "word"),
        (",", "pause"), ("one", "word"), ("of", "word"), ("them", "word"), (",", "pause"),
        ("a", "word"), ("1", "number"), ("lesion", "word"),
    ]  # fmt: skip
    assert _texts("1980s 3rd grey") == [("1980s", "word"), ("3rd", "word"), ("gray", "word")]
    assert _texts("I don't know") == [("i", "word"), ("don't", "word"), ("know", "word")]


def test_phrase_drops_the_article_and_canonicalises():
    assert V.phrase("a heart murmur") == ("heart", "murmur")
    assert V.phrase("$86,000") == ("86000",)
    assert V.phrase("15 Spruce St.") == ("15", "spruce", "street")
    assert V.phrase("Doctor Weber") == V.phrase("Dr. Weber") == ("dr", "weber")
    assert V.phrase("a") == ("a",)


def test_negative_contractions():
    for w in ["don't", "isn't", "can't", "cannot", "dont", "wasnt"]:
        assert V.is_negative_contraction(w)
    for w in ["know", "not", "it's", "note"]:
        assert not V.is_negative_contraction(w)


# --------------------------------------------------------------------------------------------
# synonyms


def test_synonym_table_uses_benchmark_values_only():
    every = {v for vals in attributes([]).values() for v in vals}
    assert set(synonyms.PHRASES) <= every


def test_no_wording_of_a_value_is_a_wording_of_another_value_of_its_attribute():
    for attr, vals in attributes([]).items():
        owner = {}
        for v in vals:
            for alt in synonyms.alternatives(v):
                p = V.phrase(alt)
                assert owner.setdefault(p, v) == v, f"{attr}: {alt!r} of {v!r} and {owner[p]!r}"


def test_generated_wordings():
    def phrases(value):
        return {V.phrase(a) for a in synonyms.alternatives(value)}

    assert {V.phrase(a) for a in ["O negative", "O neg", "O Rh-negative"]} <= phrases("O-")
    assert {V.phrase(a) for a in ["AB positive", "AB rhesus positive"]} <= phrases("AB+")
    hat = set(synonyms.alternatives("no hat"))
    assert {"not wearing a hat", "doesn't wear a hat", "without a hat", "bareheaded"} <= hat
    glasses = set(synonyms.alternatives("no glasses"))
    assert {"isn't wearing any glasses", "without glasses", "not wearing spectacles"} <= glasses
    assert synonyms.alternatives("chess") == ("chess",)


# --------------------------------------------------------------------------------------------
# mentions


def _statuses(answer, keys, values, question="", gold=""):
    found = mentions.find(answer, tuple(keys), tuple(values), question=question, gold=gold)
    return [(m.owner, m.status) for m in found]


YEARS = tuple(str(y) for y in range(1950, 2006))
K0 = ("key", 0)


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("She was born in 1984.", [(K0, "affirmed")]),
        ("She was not born in 1984.", [(K0, "negated")]),
        ("I don't know, but it is 1984.", [(K0, "affirmed")]),  # "but" ends the negation
        ("1984 is not right.", [(K0, "negated")]),  # negated copula after the value
        ("Maybe 1984.", [(K0, "hedged")]),
        ("Maybe, 1984.", [(K0, "hedged")]),  # the hedge carries over its comma
        ("I think it is 1984.", [(K0, "affirmed")]),
        ("Was it 1984?", [(K0, "hedged")]),
        ("1984 or 1985.", [(K0, "hedged"), (("1985",), "hedged")]),
        ("1984 or 2010.", [(K0, "hedged")]),  # 2010: a key-length number, no value
        ("1984, not 1985.", [(K0, "affirmed"), (("1985",), "negated")]),
        ("There is no doubt: 1984.", [(K0, "affirmed")]),
        ("Born in May 1984.", [(K0, "affirmed")]),  # "may" is a hedge only before be/have
        ("It may be 1984.", [(K0, "hedged")]),
    ],
)
def test_mention_status(answer, expected):
    assert _statuses(answer, ["1984"], YEARS) == expected


def test_mentions_bound_to_another_feature_are_ignored():
    colors = ("black", "brown", "red", "blue")
    q, gold = "What color is the hair of this person?", "The hair is brown."
    found = _statuses(
        "Brown hair, a red shirt; the background is blue.", ["brown"], colors, q, gold
    )
    assert found == [(K0, "affirmed"), (("red",), "ignored"), (("blue",), "ignored")]
    counts = tuple("1234")
    q, gold = "How many shapes are in the image?", "The number of shapes is 3."
    # "one of them" is a pronoun (no number token); "1 of them" is a number bound to "of".
    found = _statuses(
        "3 shapes: 2 circles, one of them red, 1 of them blue.", ["3"], counts, q, gold
    )
    assert found == [(K0, "affirmed"), (("2",), "ignored"), (("1",), "ignored")]


def test_whole_values_only():
    j = RuleJudge()
    assert j.fact("She lives in York.", "", ["New York"], ["New York", "York"]) == 0
    assert j.fact("She lives in New York.", "", ["York"], ["New York", "York"]) == 0
    assert j.fact("She earns $186,000.", "", ["$86,000"], ["$86,000", "$88,000"]) == 0
    assert j.fact("She earns $86,000.", "", ["$86,000"], ["$86,000", "$88,000"]) == 10


def test_yes_no_question_answered_no():
    j = RuleJudge()
    hats = attributes([])["hat"]
    ask = "Does this person wear a hat?"
    assert j.fact("No.", "", ["no hat"], hats, question=ask) == 10
    assert j.fact("No.", "", ["cap"], hats, question=ask) == 0  # "no hat" is another value
    assert j.fact("No.", "", ["no hat"], hats, question="What is on the head?") == 0
    assert j.fact("No, a cap.", "", ["cap"], hats, question=ask) == 0  # both: contradiction
