"""Held-out paraphrases: the forget question asked in a wording never trained (the row's
``paraphrases``; one seeded choice per question, every one in the full suite)."""

from __future__ import annotations

from smfa.eval.attacks.base import Attack, Attacked, Target, row_rng
from smfa.registry import ATTACKS


@ATTACKS.register("paraphrase")
class Paraphrase(Attack):
    title = "Held-out paraphrase"

    def apply(self, t: Target) -> Attacked:
        rows, questions, images = [], [], []
        for r, im in zip(t.rows, t.images):
            paras = list(r["paraphrases"])
            chosen = paras if t.full else [row_rng(t.seed, "paraphrase", r).choice(paras)]
            for q in chosen:
                rows.append(r)
                questions.append(q)
                images.append(im)
        return Attacked(rows, questions, images, best_of=t.full)
