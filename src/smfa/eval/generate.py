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


@torch.no_grad()
def grouped_answer_logprobs(
    model,
    processor,
    groups: Sequence[tuple],
    batch_size: int = 32,
) -> list[list[float]]:
    """:func:`answer_logprobs` of ``(image or None, question, [answers])`` groups, per group.

    Each prompt (and its image) is encoded and run once; its KV cache is copied to every
    answer, which then costs only its own tokens. Same values as scoring every
    ``(image, question, answer)`` with :func:`answer_logprobs` (up to float rounding); models
    without 1-D positions (:func:`smfa.models.forward.shares_prefix`) take that path.
    """
    from smfa.models.format import TOKEN_KEYS, _pad_id, collate, continuation_ids, encode
    from smfa.models.forward import continuation_logits, prefix_forward, shares_prefix

    model.eval()
    if not shares_prefix(model):
        flat = [(im, q, a) for im, q, answers in groups for a in answers]
        vals = iter(answer_logprobs(model, processor, flat, batch_size))
        return [[next(vals) for _ in answers] for _, _, answers in groups]
    pad = _pad_id(processor)
    out: list[list[float]] = []
    for idx in _batches(len(groups), batch_size):
        chunk = [groups[i] for i in idx]
        prompts = [encode(processor, im, q) for im, q, _ in chunk]
        conts = continuation_ids(processor, [(q, im is not None, a) for im, q, a in chunk])
        batch = collate(processor, prompts, padding_side="left")
        batch = {k: v.to(model.device) for k, v in batch.items()}
        extra = tuple(k for k in batch if k in TOKEN_KEYS and k != "attention_mask")
        last, cache = prefix_forward(model, batch)
        flat = [(g, ids) for g, ids_list in enumerate(conts) for ids in ids_list]
        vals: list[float] = []
        for sub in _batches(len(flat), batch_size):
            rows = torch.tensor([flat[i][0] for i in sub], device=model.device)
            seqs = [flat[i][1] for i in sub]
            width = max(1, max(len(s) for s in seqs))
            ids = torch.full((len(seqs), width), pad, dtype=torch.long)
            mask = torch.zeros((len(seqs), width), dtype=torch.long)
            for j, s in enumerate(seqs):
                ids[j, : len(s)] = torch.tensor(s, dtype=torch.long)
                mask[j, : len(s)] = 1
            ids, mask = ids.to(model.device), mask.to(model.device)
            logits = continuation_logits(
                model, cache, batch["attention_mask"], rows, ids, mask, extra
            )
            # logits[:, t] predicts ids[:, t + 1]; the prompt's last position predicts ids[:, 0]
            pred = torch.cat([last[rows].unsqueeze(1), logits[:, :-1]], dim=1).float()
            logp = torch.log_softmax(pred, dim=-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
            m = mask.bool()
            vals += [float(v) for v in (logp * m).sum(1) / m.sum(1).clamp(min=1)]
        it = iter(vals)
        out += [[next(it) for _ in ids_list] for ids_list in conts]
    return out
