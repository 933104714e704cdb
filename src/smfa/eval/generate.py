"""Batched greedy generation (left padding, KV cache) and answer log-likelihoods."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from smfa.losses import token_logprobs
from smfa.models.forward import answer_logits
from smfa.progress import bar


def _batches(n: int, size: int):
    for i in range(0, n, size):
        yield range(i, min(n, i + size))


@torch.no_grad()
def generate_answers(
    model,
    processor,
    items: Sequence[tuple],
    batch_size: int = 32,
    max_new_tokens: int = 32,
    desc: str = "generate",
) -> list[str]:
    """Greedy answers for ``(image or None, question)`` items, ``batch_size`` at a time.

    Prompts are left-padded so every row's answer starts at the same position; the KV cache is
    on (``use_cache=True``). With greedy decoding the answers equal one-at-a-time generation.
    """
    from smfa.models.format import decode_answers, prompt_batch

    model.eval()
    tok = processor.tokenizer
    out: list[str] = []
    pbar = bar(total=len(items), desc=desc, unit="q")
    for idx in _batches(len(items), batch_size):
        batch = prompt_batch(processor, [items[i] for i in idx])
        batch = {k: v.to(model.device) for k, v in batch.items()}
        seqs = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            use_cache=True,
            pad_token_id=tok.pad_token_id,
        )
        out += decode_answers(processor, seqs, batch["input_ids"].shape[1])
        pbar.update(len(idx))
    pbar.close()
    return out


@torch.no_grad()
def answer_logprobs(
    model,
    processor,
    items: Sequence[tuple],
    batch_size: int = 32,
    reduce: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> list[float]:
    """Mean per-token log-probability of each ``(image or None, question, answer)``'s answer.

    Used for multiple choice (one item per option), the truth ratio (gold vs perturbed answers)
    and membership inference. ``reduce(logp [B, T], mask [B, T]) -> [B]`` overrides the mean.
    """
    from smfa.models.format import train_batch

    model.eval()
    out: list[float] = []
    for idx in _batches(len(items), batch_size):
        batch = train_batch(processor, [items[i] for i in idx])
        batch = {k: v.to(model.device) for k, v in batch.items()}
        logits, labels = answer_logits(model, batch)
        logp, mask = token_logprobs(logits.float(), labels)
        if reduce is None:
            vals = (logp * mask).sum(1) / mask.sum(1).clamp(min=1)
        else:
            vals = reduce(logp, mask)
        out += [float(v) for v in vals]
    return out
