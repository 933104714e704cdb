"""Membership inference (docs/metrics.md §8): LOSS, zlib, Min-K% and Min-K%++ scores of the gold
answers of the forget questions (members) and of the holdout profiles' questions (never
trained), AUC per score and the privacy score ``1 − 2·|AUC − 0.5|``. The attacked value is the
strongest attack's advantage ``2·|AUC − 0.5|`` (= 1 − its privacy score); unattacked is 0
(chance): after exact unlearning the forget set looks like the holdout set."""

from __future__ import annotations

import torch

from smfa.eval import mia
from smfa.eval.attacks.base import Attack, Probe, Target
from smfa.eval.metrics import MEMORY_QTYPES
from smfa.eval.runner import select_rows
from smfa.registry import ATTACKS

SCORES = ("loss", "zlib", "min_k", "min_k_pp")


@torch.no_grad()
def answer_scores(net, processor, items: list[tuple]) -> dict[str, list[float]]:
    """The four membership scores of each ``(image, question, answer)``'s answer."""
    from smfa.models.format import train_batch
    from smfa.models.forward import answer_logits

    out = {s: [] for s in SCORES}
    for img, q, a in items:
        batch = train_batch(processor, [(img, q, a)])
        batch = {k: v.to(net.device) for k, v in batch.items()}
        logits, labels = answer_logits(net, batch)
        lg, lb = logits[0, :-1], labels[0, 1:]
        keep = lb != -100
        lp, mu, sd = mia.token_stats(lg[keep], lb[keep])
        out["loss"].append(mia.loss_score(lp))
        out["zlib"].append(mia.zlib_score(lp, a))
        out["min_k"].append(mia.min_k_score(lp))
        out["min_k_pp"].append(mia.min_k_plus_plus_score(lp, mu, sd))
    return out


def auc_table(members: dict, nonmembers: dict) -> dict[str, dict]:
    """``{score: {"auc", "privacy"}}`` from the two score dicts of :func:`answer_scores`."""
    table = {}
    for s in SCORES:
        a = mia.auc(members[s], nonmembers[s])
        table[s] = {"auc": a, "privacy": mia.mia_privacy_score(a)}
    return table


@ATTACKS.register("mia")
class MembershipInference(Attack):
    kind = "probe"
    title = "Membership inference"

    def measure(self, t: Target) -> Probe:
        holdout = [r for r in t.bench.split("holdout") if r["qtype"] in MEMORY_QTYPES]
        holdout = select_rows(holdout, len(t.rows), t.seed)
        if not holdout or not t.rows:
            return Probe(None, None, 0)
        mem = [(im, r["question"], r["answer"]) for r, im in zip(t.rows, t.images)]
        non = [(t.bench.open_image(r), r["question"], r["answer"]) for r in holdout]
        table = auc_table(
            answer_scores(t.net, t.processor, mem), answer_scores(t.net, t.processor, non)
        )
        worst = min(v["privacy"] for v in table.values())
        return Probe(0.0, 1.0 - worst, len(mem) + len(non), {"scores": table})
