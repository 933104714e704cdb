"""Unlearning losses as pure functions of logits (SPEC §3 baselines).

Conventions shared by every function:

- ``logits``: ``[B, L, V]``, any float dtype (computed in float32).
- ``labels``: ``[B, L]`` int64, **not shifted**, ``-100`` = ignored (prompt, padding). As in
  Hugging Face causal LMs, ``logits[:, t]`` predicts ``labels[:, t + 1]``; the shift happens here.
- "answer tokens" are the positions ``t`` (``0 ≤ t < L − 1``) with ``labels[:, t + 1] != -100``.
- Reductions average over answer tokens (or sequences), never over padding, and a batch with no
  answer token gives 0 (not nan) so that it contributes nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def _shift(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if logits.ndim != 3 or labels.ndim != 2 or logits.shape[:2] != labels.shape:
        raise ValueError(
            f"expected logits [B, L, V] and labels [B, L]; got {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}"
        )
    return logits[:, :-1].float(), labels[:, 1:]


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each next label token.

    Returns:
        ``(logp, mask)``: ``logp`` float32 ``[B, L−1]`` with
        ``logp[b, t] = log softmax(logits[b, t])[labels[b, t+1]]`` (0 where ignored), and
        ``mask`` bool ``[B, L−1]`` = answer tokens.
    """
    shift_logits, shift_labels = _shift(logits, labels)
    mask = shift_labels != IGNORE_INDEX
    index = shift_labels.clamp(min=0).unsqueeze(-1)
    logp = torch.log_softmax(shift_logits, dim=-1).gather(-1, index).squeeze(-1)
    return logp * mask, mask


def sequence_logprob_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``log π(answer | prompt)`` per sequence: sum of answer-token log-probs, float32 ``[B]``."""
    logp, _ = token_logprobs(logits, labels)
    return logp.sum(-1)


def sequence_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean NLL per sequence over its answer tokens, float32 ``[B]`` (0 for no answer tokens)."""
    logp, mask = token_logprobs(logits, labels)
    return -logp.sum(-1) / mask.sum(-1).clamp(min=1)


def nll_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy averaged over all answer tokens of the batch (scalar).

    Equals Hugging Face's causal-LM loss and
    ``F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)``
    (which would be nan, not 0, for a batch without answer tokens).
    """
    logp, mask = token_logprobs(logits, labels)
    return -logp.sum() / mask.sum().clamp(min=1)


def ga_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Gradient ascent on the forget set (Jang et al. 2023, "Knowledge Unlearning for
    Mitigating Privacy Risks in Language Models"; Thudi et al. 2022): ``−NLL(forget)``."""
    return -nll_loss(logits, labels)


def gd_loss(
    forget_logits: torch.Tensor,
    forget_labels: torch.Tensor,
    retain_logits: torch.Tensor,
    retain_labels: torch.Tensor,
    retain_weight: float = 1.0,
) -> torch.Tensor:
    """Gradient difference (Liu et al. 2022; TOFU, Maini et al. 2024):
    ``−NLL(forget) + retain_weight · NLL(retain)`` (scalar)."""
    return ga_loss(forget_logits, forget_labels) + retain_weight * nll_loss(
        retain_logits, retain_labels
    )


def kl_loss(logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``KL(p_ref ‖ p_θ)`` per answer token, averaged over answer tokens (scalar).

    ``Σ_v p_ref(v) (log p_ref(v) − log p_θ(v))`` with ``p = softmax(logits[:, t])`` at the
    answer positions, the direction of TOFU's KL method (Maini et al. 2024: ``kl_div(current,
    original, log_target=True)`` on retain data). Logits are first flattened to the answer
    tokens, so the mean is per token, not ``batchmean`` over ``[B, L, V]`` (which sums over L).
    ``ref_logits`` (same shape as ``logits``) is treated as a constant (detached).
    """
    if ref_logits.shape != logits.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} and ref_logits {tuple(ref_logits.shape)} differ"
        )
    shift_logits, shift_labels = _shift(logits, labels)
    mask = shift_labels != IGNORE_INDEX
    logq = torch.log_softmax(shift_logits[mask], dim=-1)  # [N, V] current model
    logp_ref = torch.log_softmax(ref_logits[:, :-1].detach().float()[mask], dim=-1)
    kl = F.kl_div(logq, logp_ref, reduction="sum", log_target=True)
    return kl / mask.sum().clamp(min=1)


def npo_loss(logp_seq: torch.Tensor, ref_logp_seq: torch.Tensor, beta: float) -> torch.Tensor:
    """Negative Preference Optimization (Zhang et al. 2024, "Negative Preference Optimization:
    From Catastrophic Collapse to Effective Unlearning", Eq. 3).

    ``L = (2/β) · mean_i log(1 + (π_θ(y_i|x_i) / π_ref(y_i|x_i))^β)
        = −(2/β) · mean_i logsigmoid(−β · (logp_i − ref_logp_i))``

    Args:
        logp_seq: float ``[B]``, summed answer log-probs of the forget samples under the
            current model (:func:`sequence_logprob_sum`).
        ref_logp_seq: float ``[B]``, the same under the reference (original) model; detached.
        beta: inverse temperature, ``> 0``.

    At ``logp = ref_logp`` the loss is ``(2/β) log 2``; ``∂L/∂logp_i = (2/B) σ(β(logp_i −
    ref_i))`` lies in ``(0, 2/B)``: bounded, unlike gradient ascent.
    """
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    log_ratio = logp_seq.float() - ref_logp_seq.detach().float()
    return -(2.0 / beta) * F.logsigmoid(-beta * log_ratio).mean()
