"""Forward passes that compute logits only where a loss needs them.

A causal LM's loss reads the logits of the answer tokens only, yet ``model(**batch)`` projects
every position onto the vocabulary and, given ``labels``, also computes its own loss. On the
tiny model those two (the LM head and its log-softmax) are about a third of a training step.
:func:`answer_logits` asks the model for the logits of the last ``K`` positions
(``logits_to_keep``, supported by every transformers generation model) where ``K`` covers the
earliest answer token in the batch, and returns the labels cut to the same window, so every
loss in :mod:`smfa.losses` gives exactly the value it gives on the full sequence.
"""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


def answer_window(labels: torch.Tensor) -> int:
    """First position whose logits are needed: one before the batch's earliest answer token.

    ``logits[:, t]`` predicts ``labels[:, t + 1]``, so the window starts at ``min_first − 1``.
    A batch without answer tokens keeps only the last position.
    """
    mask = labels != IGNORE_INDEX
    rows = mask.any(dim=1)
    if not bool(rows.any()):
        return labels.shape[1] - 1
    first = int(mask[rows].float().argmax(dim=1).min())
    return max(first - 1, 0)


def answer_logits(model, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, labels)`` of ``batch`` restricted to the answer window (see module doc).

    ``logits`` is ``[B, K, V]`` for positions ``start … L−1``; ``labels`` is ``labels[:, start:]``
    (not shifted, like the full-sequence convention of :mod:`smfa.losses`).
    """
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    start = answer_window(labels)
    keep = labels.shape[1] - start
    try:
        logits = model(**inputs, logits_to_keep=keep).logits
    except TypeError as e:  # a model without logits_to_keep: full logits, sliced here
        if "logits_to_keep" not in str(e):
            raise
        logits = model(**inputs).logits[:, start:]
    return logits, labels[:, start:]
