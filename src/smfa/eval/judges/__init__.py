"""Judges of Fact and Meaningful scores; importing this package registers them in
:data:`smfa.registry.JUDGES`: ``rule`` (default, offline; its reading of answers is
``values``, ``synonyms`` and ``mentions``), ``openai``, ``hf`` and ``embed`` (optional extra)."""

from smfa.eval.judges import embed, hf, openai, rule  # noqa: F401  (registration)
from smfa.eval.judges.base import Judge, JudgeItem, as_items, fill_rubric, get_judge, load_rubric
from smfa.eval.judges.rule import RuleJudge

__all__ = ["Judge", "JudgeItem", "RuleJudge", "as_items", "fill_rubric", "get_judge", "load_rubric"]
