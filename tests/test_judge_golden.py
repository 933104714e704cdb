"""The rule judge's Fact score against hand-labelled cases (tests/data/judge_golden.jsonl), the
pre-change per-token algorithm on the same cases, and the benchmark's own wording.

Each golden line: ``question, gold, keys, attribute, values, answer, expected_fact, why``;
``values`` is a list, or ``"*"`` for every value the generator gives the attribute
(``smfa.bench.write.attributes``). Labels follow docs/metrics.md §6.1, written by hand.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from legacy_rule_judge import legacy_fact

from smfa.bench import load
from smfa.bench.write import attributes
from smfa.eval.judges import RuleJudge
from smfa.splits import SPLITS

GOLDEN = Path(__file__).parent / "data" / "judge_golden.jsonl"
CASES = [json.loads(line) for line in GOLDEN.read_text("utf-8").splitlines() if line.strip()]
ALL_VALUES = attributes([])


def _values(case: dict) -> list[str]:
    return ALL_VALUES[case["attribute"]] if case["values"] == "*" else case["values"]


def test_golden_file_is_big_and_covers_every_attribute():
    assert len(CASES) >= 80
    assert {c["attribute"] for c in CASES} == set(ALL_VALUES)
    for c in CASES:
        assert set(c) == {"question", "gold", "keys", "attribute", "values", "answer",
                          "expected_fact", "why"}  # fmt: skip
        assert 0 <= c["expected_fact"] <= 10 and c["why"]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['attribute']}" for i, c in enumerate(CASES)])
def test_rule_judge_matches_golden_case(case):
    got = RuleJudge().fact(
        case["answer"], case["gold"], case["keys"], _values(case), question=case["question"]
    )
    assert got == pytest.approx(case["expected_fact"], abs=1e-3), case["why"]


def test_legacy_per_token_judge_fails_golden_cases():
    wrong = [
        c
        for c in CASES
        if abs(legacy_fact(c["answer"], c["gold"], c["keys"], _values(c)) - c["expected_fact"])
        > 1e-3
    ]
    assert len(wrong) >= 10
    # The cases named in the issue are among them.
    answers = {c["answer"] for c in wrong}
    for a in ["Rhea Lang was born in 1,984.", "Rhea Lang earns $86k per year.",
              "There are three lesions visible in this fundus image.",
              "The blood type of Selma Ramos is O negative.", "Rhea Lang earns $186,000 a year.",
              "Rhea Lang was not born in 1984."]:  # fmt: skip
        assert a in answers


# --------------------------------------------------------------------------------------------
# The benchmark's own wording (what the tiny model says)


def _caption_objects(answer: str) -> set[str]:
    """'The image shows a red circle, a blue square and a red circle.' -> {red circle, ...}."""
    body = answer.removeprefix("The image shows ").removesuffix(".")
    return {re.sub(r"^(a|an) ", "", p) for p in re.split(r", | and ", body)}


def test_benchmark_answers_score_as_before(small_bench):
    """Every question of every table: the gold answer scores 10, a pool refusal 0, each
    perturbed answer 0 — except a scene caption whose swapped object duplicates another key,
    which states a subset of the keys and no other value (10 × stated / keys). The pre-change
    judge agrees everywhere except on those captions."""
    bench = load(small_bench)
    attrs, pool = bench.attributes(), bench.refusals()
    judge = RuleJudge(refusal_pool=pool)
    rnd = random.Random(0)
    checked = 0
    for split in SPLITS:
        for r in bench.split(split):
            values = attrs.get(r["attribute"], [])

            def fact(answer, r=r, values=values):
                new = judge.fact(answer, r["answer"], r["keys"], values, question=r["question"])
                old = legacy_fact(answer, r["answer"], r["keys"], values, judge.pool)
                return new, old

            assert fact(r["answer"]) == (10.0, 10.0), r["id"]
            refusal = rnd.choice([p for p in pool if p != r["answer"]])
            assert fact(refusal) == (0.0, 0.0), (r["id"], refusal)
            for p in r["perturbed"]:
                new, old = fact(p)
                expected = 0.0
                if r["attribute"] == "objects" and _caption_objects(p) <= set(r["keys"]):
                    expected = 10.0 * len(_caption_objects(p)) / len(r["keys"])
                assert new == pytest.approx(expected), (r["id"], p)
                if r["attribute"] != "objects":
                    assert old == new, (r["id"], p)
                checked += 1
    assert checked > 1000
