"""Relearning (Deeb & Roger, arXiv 2410.08827): split each forget profile's private facts into
T and V (seeded, half each), fine-tune a copy of the model in memory for a few steps on the
gold answers of T (both views, every training phrasing), then ask V. If learning some facts
brings the others back, they were hidden, not removed. The model on disk is never touched:
the copy lives in memory only."""

from __future__ import annotations

import copy
import random

import torch

from smfa.data import ImageCache
from smfa.eval.attacks.base import Attack, Attacked, Target, unchanged
from smfa.eval.metrics import MEMORY_QTYPES
from smfa.registry import ATTACKS

STEPS, STEPS_FULL, BATCH, LR = 8, 24, 8, 1e-3


def split_facts(rows: list[dict], seed: int) -> tuple[set, set]:
    """``(T, V)``: sets of ``(subject_id, attribute)``; each subject's attributes are shuffled
    with a generator seeded by ``(seed, subject)`` and the first ``floor(n/2)`` go to T."""
    by_subject: dict[str, set] = {}
    for r in rows:
        by_subject.setdefault(r["subject_id"], set()).add(r["attribute"])
    t_set, v_set = set(), set()
    for subject, attrs in sorted(by_subject.items()):
        order = sorted(attrs)
        random.Random(f"{seed}/{subject}").shuffle(order)
        half = len(order) // 2
        t_set |= {(subject, a) for a in order[:half]}
        v_set |= {(subject, a) for a in order[half:]}
    return t_set, v_set


def finetune_copy(net, processor, items: list[tuple], steps: int, lr: float, seed: int):
    """A deep copy of ``net`` trained ``steps`` AdamW steps (batch :data:`BATCH`, every
    parameter) on ``(image, question, answer)`` items with next-token cross-entropy."""
    from smfa.losses import nll_loss
    from smfa.models.format import train_batch
    from smfa.models.forward import answer_logits

    model = copy.deepcopy(net)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters()], lr=lr, weight_decay=0.0)
    rng = random.Random(seed)
    for _ in range(steps):
        batch = train_batch(processor, rng.sample(items, min(BATCH, len(items))))
        batch = {k: v.to(model.device) for k, v in batch.items()}
        loss = nll_loss(*answer_logits(model, batch))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model


@ATTACKS.register("relearn")
class Relearn(Attack):
    title = "Relearning (T → V)"

    def apply(self, t: Target) -> Attacked:
        split = t.options.get("forget", "forget10")
        table = [r for r in t.bench.split(split) if r["qtype"] in MEMORY_QTYPES]
        t_set, v_set = split_facts(table, t.seed)
        images = ImageCache()
        train = [
            (images.of(t.bench, r), q, r["answer"])
            for r in table
            if (r["subject_id"], r["attribute"]) in t_set
            for q in r["phrasings"]
        ]
        v_rows = [r for r in t.rows if (r["subject_id"], r["attribute"]) in v_set]
        steps = int(t.options.get("relearn_steps", STEPS_FULL if t.full else STEPS))
        lr = float(t.options.get("relearn_lr", LR))
        out = unchanged(t, v_rows)
        out.net = finetune_copy(t.net, t.processor, train, steps, lr, t.seed) if train else None
        out.details = {
            "steps": steps,
            "lr": lr,
            "train_items": len(train),
            "T": len(t_set),
            "V": len(v_set),
        }
        return out
