"""The METRICS registry feeds the per-sample records, the summary and the report tables."""

from __future__ import annotations

import json

from smfa.eval.per_sample import Metric, register, registered
from smfa.registry import METRICS


def test_shipped_metrics_and_their_summary_keys():
    names = [m.name for m in registered()]
    assert names[:6] == ["rouge", "fact", "meaningful", "refusal", "mc_correct", "truth_ratio"]
    assert {m.name: m.group_key for m in registered()}["mc_correct"] == "mc_accuracy"
    assert [m.name for m in registered() if m.main] == ["rouge", "fact"]


def test_a_registered_metric_reaches_the_eval_json_and_the_report(
    tiny_original, small_bench, tmp_path
):
    from smfa.stages.evaluate import evaluate
    from smfa.stages.report import report

    register(
        Metric(
            "answer_words", lambda ev: len(ev.answer.split()), "Answer length (words)", main=True
        )
    )
    try:
        run = tmp_path / "run"
        out = run / "eval" / "original.json"
        evaluate(
            str(tiny_original), str(small_bench), str(out), max_samples=3, logprob_metrics=False
        )
        res = json.loads(out.read_text())
        recs = res["records"]
        assert recs and all(r["answer_words"] == len(r["answer"].split()) for r in recs)
        retain = [
            r["answer_words"]
            for r in recs
            if r["split"] == "retain" and r["qtype"] == "text_memory"
        ]
        group = res["summary"]["groups"]["retain"]["text_memory"]["answer_words"]
        assert group == sum(retain) / len(retain)
        assert res["summary"]["main"]["answer_words"]["retain_mem"] is not None
        assert res["metrics"]["answer_words"]["main"] is True
        (run / "manifest.json").write_text(json.dumps({"name": "m", "seeds": [0], "methods": {}}))
        report(str(run))
        md = (run / "report.md").read_text()
        assert "**Answer length (words)**" in md and "**Fact Score (0–10)**" in md
    finally:
        METRICS.remove("answer_words")
