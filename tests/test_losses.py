"""Unlearning losses with hand-computed values (small vocabulary, V = 3)."""

import math

import pytest
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

from smfa.losses import (  # noqa: E402
    ga_loss,
    gd_loss,
    kl_loss,
    nll_loss,
    npo_loss,
    sequence_logprob_sum,
    sequence_nll,
    token_logprobs,
)

LN = math.log


def probs_logits(*p):
    """Logits whose softmax is exactly ``p`` (up to rounding): log p."""
    return [LN(x) for x in p]


# Batch of 2, L = 3, V = 3. logits[:, t] predicts labels[:, t + 1].
#   seq 0: labels [-100, 0, 2] → t=0 predicts 0 with p = [1/3, 1/3, 1/3]   : log p = -ln 3
#                               t=1 predicts 2 with p = [1/8, 2/8, 5/8]   : log p = ln(5/8)
#   seq 1: labels [-100, -100, 1] → t=1 predicts 1 with p = [1/4, 1/4, 1/2]: log p = -ln 4
# t = 2 logits predict nothing (junk values must not matter).
LOGITS = torch.tensor(
    [
        [[0.0, 0.0, 0.0], probs_logits(1 / 8, 2 / 8, 5 / 8), [9.0, -9.0, 3.0]],
        [[5.0, 1.0, -2.0], probs_logits(1 / 4, 1 / 4, 1 / 2), [-7.0, 7.0, 0.0]],
    ]
)
LABELS = torch.tensor([[-100, 0, 2], [-100, -100, 1]])
SEQ_LOGP = [-LN(3) + LN(5 / 8), -LN(4)]


def test_token_logprobs():
    logp, mask = token_logprobs(LOGITS, LABELS)
    assert mask.tolist() == [[True, True], [False, True]]
    expect = torch.tensor([[-LN(3), LN(5 / 8)], [0.0, -LN(4)]])
    torch.testing.assert_close(logp, expect, rtol=0, atol=1e-6)


def test_sequence_sums_and_means():
    torch.testing.assert_close(
        sequence_logprob_sum(LOGITS, LABELS), torch.tensor(SEQ_LOGP), rtol=0, atol=1e-6
    )
    expect = torch.tensor([(LN(3) - LN(5 / 8)) / 2, LN(4)])
    torch.testing.assert_close(sequence_nll(LOGITS, LABELS), expect, rtol=0, atol=1e-6)


def test_nll_equals_hand_torch_and_hf():
    hand = (LN(3) - LN(5 / 8) + LN(4)) / 3  # mean over the 3 answer tokens of the batch
    got = nll_loss(LOGITS, LABELS)
    assert float(got) == pytest.approx(hand, abs=1e-6)
    ce = F.cross_entropy(LOGITS[:, :-1].reshape(-1, 3), LABELS[:, 1:].reshape(-1))
    assert float(got) == pytest.approx(float(ce), abs=1e-6)
    from transformers.loss.loss_utils import ForCausalLMLoss

    assert float(got) == pytest.approx(float(ForCausalLMLoss(LOGITS, LABELS, 3)), abs=1e-6)
    assert float(nll_loss(LOGITS.bfloat16(), LABELS)) == pytest.approx(hand, abs=2e-2)


def test_no_answer_tokens_gives_zero():
    labels = torch.full((2, 3), -100)
    assert float(nll_loss(LOGITS, labels)) == 0.0
    assert sequence_nll(LOGITS, labels).tolist() == [0.0, 0.0]


def test_ga_and_gd():
    hand = (LN(3) - LN(5 / 8) + LN(4)) / 3
    assert float(ga_loss(LOGITS, LABELS)) == pytest.approx(-hand, abs=1e-6)
    # retain: seq 1 only, NLL = ln 4
    r_labels = torch.tensor([[-100, -100, 1]])
    r_logits = LOGITS[1:]
    got = gd_loss(LOGITS, LABELS, r_logits, r_labels, retain_weight=0.5)
    assert float(got) == pytest.approx(-hand + 0.5 * LN(4), abs=1e-6)


def test_kl_hand_and_direction():
    # answer positions t=0 (labels[1] = 1) and t=1 (labels[2] = 0) of sequence 0;
    # sequence 1 has no answer tokens and very different logits: must be ignored.
    # t=0: p_ref = [1/2, 1/4, 1/4], p_θ = [1/8, 3/8, 1/2]
    #   KL(p_ref ‖ p_θ) = ½ ln 4 + ¼ ln(2/3) + ¼ ln(1/2) = ln 2 − ¼ ln 3
    #   (the reverse KL(p_θ ‖ p_ref) = −⅛ ln 2 + ⅜ ln 3, a different number)
    # t=1: equal logits → 0.   Mean over the 2 answer tokens: (ln 2 − ¼ ln 3) / 2
    ref = torch.tensor(
        [
            [probs_logits(1 / 2, 1 / 4, 1 / 4), [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]],
            [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
        ]
    )
    cur = torch.tensor(
        [
            [probs_logits(1 / 8, 3 / 8, 1 / 2), [1.0, 2.0, 3.0], [5.0, -5.0, 0.0]],
            [[9.0, 0.0, -9.0], [-9.0, 9.0, 0.0], [3.0, 3.0, -3.0]],
        ]
    )
    labels = torch.tensor([[-100, 1, 0], [-100, -100, -100]])
    want = (LN(2) - LN(3) / 4) / 2
    assert float(kl_loss(cur, ref, labels)) == pytest.approx(want, abs=1e-6)
    assert float(kl_loss(cur, ref, labels)) != pytest.approx((-LN(2) / 8 + 3 * LN(3) / 8) / 2)
    assert float(kl_loss(ref, ref, labels)) == pytest.approx(0.0, abs=1e-7)
    # padding the sequence with ignored positions does not change the per-token mean
    pad = torch.zeros(2, 4, 3)
    padded = kl_loss(
        torch.cat([cur, pad], 1),
        torch.cat([ref, pad], 1),
        torch.cat([labels, torch.full((2, 4), -100)], 1),
    )
    assert float(padded) == pytest.approx(want, abs=1e-6)


def test_kl_gradient_only_through_current():
    cur = torch.randn(1, 4, 3, requires_grad=True)
    ref = torch.randn(1, 4, 3, requires_grad=True)
    kl_loss(cur, ref, torch.tensor([[-100, 0, 1, 2]])).backward()
    assert cur.grad is not None and ref.grad is None


def test_npo_hand():
    for beta in (0.1, 1.0, 2.0):  # π_θ = π_ref: (2/β) ln 2
        x = torch.tensor([-3.0, -7.5])
        assert float(npo_loss(x, x, beta)) == pytest.approx(2 / beta * LN(2), rel=1e-6)
    # β = 1, ratio π_θ/π_ref = 2: (2/1)·ln(1 + 2) = 2 ln 3
    assert float(npo_loss(torch.tensor([LN(2)]), torch.tensor([0.0]), 1.0)) == pytest.approx(
        2 * LN(3), rel=1e-6
    )
    # β = 2, ratio 1/2: (2/2)·ln(1 + 1/4) = ln(5/4); mean over the two samples above
    got = npo_loss(torch.tensor([LN(2), -LN(2)]), torch.tensor([0.0, 0.0]), 2.0)
    assert float(got) == pytest.approx((LN(1 + 4) + LN(5 / 4)) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="beta"):
        npo_loss(torch.zeros(1), torch.zeros(1), 0.0)


def test_npo_gradient_bounded_and_positive():
    # ∂L/∂logp_i = (2/B)·σ(β(logp_i − ref_i)) ∈ (0, 2/B): descending lowers logp, boundedly
    beta, B = 0.5, 4
    logp = torch.tensor([-200.0, -1.0, 0.0, 200.0], requires_grad=True)
    ref = torch.tensor([0.0, 0.0, 0.0, 0.0])
    npo_loss(logp, ref, beta).backward()
    g = logp.grad
    assert torch.isfinite(g).all() and (g >= 0).all() and (g <= 2 / B).all()
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    for i, lp in enumerate([-200.0, -1.0, 0.0, 200.0]):
        assert float(g[i]) == pytest.approx(2 / B * sig(beta * lp), abs=1e-7)
    assert float(g[2]) == pytest.approx(2 / B / 2)  # σ(0) = ½


def test_shape_errors():
    with pytest.raises(ValueError, match="logits"):
        nll_loss(LOGITS, LABELS[:, :2])
    with pytest.raises(ValueError):
        kl_loss(LOGITS, LOGITS[:1], LABELS)
