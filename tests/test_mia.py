"""Golden tests for smfa.eval.mia: expected values are computed by hand in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from smfa.eval.mia import (
    auc,
    loss_score,
    mia_privacy_score,
    min_k_plus_plus_score,
    min_k_score,
    token_stats,
    zlib_length,
    zlib_score,
)


def test_loss_score_is_negated_nll():
    assert loss_score([-1.0, -2.0, -3.0]) == pytest.approx(-2.0)


def test_zlib_score_by_hand():
    # zlib.compress(b"a"): 2-byte header + one fixed-Huffman block (3 + 8 + 7 bits = 3 bytes)
    # + 4-byte Adler-32 = 9 bytes. NLL = mean(2, 4) = 3 -> score = -3 / 9.
    assert zlib_length("a") == 9
    assert zlib_score([-2.0, -4.0], "a") == pytest.approx(-1 / 3)


def test_min_k_by_hand():
    lp = [-1.0, -5.0, -2.0, -4.0, -3.0]
    assert min_k_score(lp, k=0.4) == pytest.approx(-4.5)  # floor(0.4*5)=2 lowest: -5, -4
    assert min_k_score(lp, k=0.2) == pytest.approx(-5.0)  # 1 lowest
    assert min_k_score(lp, k=0.1) == pytest.approx(-5.0)  # floor(0.5)=0 -> at least 1
    assert min_k_score(lp, k=1.0) == pytest.approx(-3.0)  # all: -15/5
    with pytest.raises(ValueError):
        min_k_score(lp, k=0.0)


def test_min_k_plus_plus_by_hand():
    # z = (logp - mu) / sigma = (1/1, 0/2, -1/1, -2/0.5) = (1, 0, -1, -4); k=0.5 -> mean(-4, -1)
    score = min_k_plus_plus_score(
        [-1.0, -2.0, -3.0, -4.0], mu=[-2.0] * 4, sigma=[1.0, 2.0, 1.0, 0.5], k=0.5
    )
    assert score == pytest.approx(-2.5)


def test_token_stats_two_point_distribution():
    # logits (0, ln 3) -> p = (1/4, 3/4). logp(label 1) = ln 3/4;
    # mu = 1/4 ln 1/4 + 3/4 ln 3/4; var of a two-point variable = p(1-p)(a-b)^2
    # = 3/16 * (ln 3)^2 -> sigma = sqrt(3)/4 * ln 3.
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])
    lp, mu, sigma = token_stats(logits, torch.tensor([1, 0]))
    assert lp == pytest.approx([math.log(0.75), math.log(0.5)], abs=1e-6)
    assert mu[0] == pytest.approx(0.25 * math.log(0.25) + 0.75 * math.log(0.75), abs=1e-6)
    assert sigma[0] == pytest.approx(math.sqrt(3) / 4 * math.log(3), abs=1e-5)
    assert sigma[1] == pytest.approx(0.0, abs=1e-6)  # uniform: every log-prob is the same


def test_auc_hand_values_with_ties():
    # pairs (3,2) 1, (3,1) 1, (2,2) 1/2, (2,1) 1 -> 3.5 / 4
    assert auc([3, 2], [2, 1]) == pytest.approx(0.875)
    assert auc([5, 6], [1, 2, 3]) == 1.0
    assert auc([1, 2], [5, 6]) == 0.0
    assert auc([1, 1], [1, 1, 1]) == 0.5
    # Independent check: brute-force pair counting on random data with ties.
    rng = np.random.default_rng(0)
    m, n = rng.integers(0, 5, 40), rng.integers(0, 5, 30)
    pairs = (m[:, None] > n[None, :]).sum() + 0.5 * (m[:, None] == n[None, :]).sum()
    assert auc(m, n) == pytest.approx(pairs / (40 * 30))
    with pytest.raises(ValueError):
        auc([], [1.0])


def test_privacy_score():
    assert mia_privacy_score(0.875) == pytest.approx(0.25)  # 1 - 2 * 0.375
    assert mia_privacy_score(0.5) == 1.0
    assert mia_privacy_score(0.0) == 0.0 and mia_privacy_score(1.0) == 0.0
    assert mia_privacy_score(0.3) == pytest.approx(0.6)  # 1 - 2 * 0.2
