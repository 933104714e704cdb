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


# -- one prompt, many continuations: the prompt runs once, its KV cache serves every answer ----


def shares_prefix(model) -> bool:
    """Whether :func:`prefix_forward` / :func:`continuation_logits` apply to ``model``.

    They pass 1-D positions ``0 … n−1`` explicitly; families with multi-axis rotary positions
    (Qwen2-VL / Qwen2.5-VL ``get_rope_index``) compute positions from the image grid and are
    scored with full sequences instead.
    """
    return not any(hasattr(m, "get_rope_index") for m in model.modules())


def _cache_arg(model) -> str:
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    params = inspect.signature(type(base).forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def prefix_forward(model, batch: dict) -> tuple[torch.Tensor, object]:
    """Run left-padded prompts once: ``(logits of the last position [B, V], KV cache)``.

    Positions are counted over the real tokens (``cumsum(attention_mask) − 1``), so each row
    gets the positions it has without padding; the last position's logits predict the first
    answer token.
    """
    mask = batch["attention_mask"]
    pos = (mask.long().cumsum(1) - 1).clamp(min=0)
    try:
        out = model(**batch, position_ids=pos, use_cache=True, logits_to_keep=1)
    except TypeError as e:  # a model without logits_to_keep: full logits
        if "logits_to_keep" not in str(e):
            raise
        out = model(**batch, position_ids=pos, use_cache=True)
    cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
    return out.logits[:, -1], cache


def continuation_logits(
    model,
    cache,
    prefix_mask: torch.Tensor,
    rows: torch.Tensor,
    ids: torch.Tensor,
    mask: torch.Tensor,
    extra_keys: tuple[str, ...] = (),
) -> torch.Tensor:
    """Logits ``[N, T, V]`` of continuations ``ids`` ``[N, T]`` (right-padded, ``mask``), row n
    following prompt ``rows[n]`` of the cache that :func:`prefix_forward` returned.

    The cache is indexed by ``rows`` into a new cache (the original stays usable for more
    continuations); ``extra_keys`` are token-type inputs of the family, 0 for answer tokens.
    """
    import copy

    past = copy.copy(cache)  # layer objects copied, tensors shared: selecting rebinds them
    past.layers = [copy.copy(layer) for layer in cache.layers]
    past.batch_select_indices(rows)
    full_mask = torch.cat([prefix_mask[rows], mask.to(prefix_mask.dtype)], dim=1)
    start = prefix_mask.long().sum(1)[rows].unsqueeze(1)
    pos = start + torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
    inputs = {"input_ids": ids, "attention_mask": full_mask, "position_ids": pos}
    inputs.update({k: torch.zeros_like(ids) for k in extra_keys})
    inputs[_cache_arg(model)] = past
    return model(**inputs, use_cache=True).logits
