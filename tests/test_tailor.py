"""Model Tailor's patch math (smfa.tailor) on hand-computed tensors."""

from __future__ import annotations

import pytest
import torch

from smfa.tailor import compensate, patch_mask, patch_scores


def test_scores_fuse_salience_and_sensitivity():
    delta = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
    fisher = torch.tensor([[1.0, 8.0], [4.0, 9.0]])
    # salience |Δ| / 2 = [1, .5, .25, 0]; S = ½FΔ² = [2, 4, .5, 0] / 4 = [.5, 1, .125, 0]
    got = patch_scores(delta, fisher, alpha=0.5)
    assert got.tolist() == [[0.75, 0.75], [0.1875, 0.0]]
    assert patch_scores(delta, fisher, alpha=1.0).tolist() == [[1.0, 0.5], [0.25, 0.0]]
    assert patch_scores(delta, fisher, alpha=0.0).tolist() == [[0.5, 1.0], [0.125, 0.0]]
    assert patch_scores(torch.zeros(2), torch.ones(2)).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError):
        patch_scores(delta, fisher, alpha=2.0)


def test_mask_keeps_the_top_density_ties_first():
    s = torch.tensor([[0.75, 0.75], [0.1875, 0.0]])
    assert patch_mask(s, 0.25).tolist() == [[True, False], [False, False]]
    assert patch_mask(s, 0.5).tolist() == [[True, True], [False, False]]
    assert patch_mask(s, 0.01).sum() == 1
    with pytest.raises(ValueError):
        patch_mask(s, 0.0)


def test_compensation_is_the_obs_correction():
    # H = [[2, 1], [1, 2]], row ΔW = [1, 1], keep entry 0 and reset entry 1:
    # ΔW'_0 = 1 + H_00⁻¹ H_01 ΔW_1 = 1 + ½ = 1.5 (the minimum of f(a) = 2a² − 2a + 2 at
    # a = ΔW'_0 − 1 = ½; without compensation the error is f(0) = 2, with it 1.5).
    h = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    delta = torch.tensor([[1.0, 1.0], [3.0, -2.0]])
    keep = torch.tensor([[True, False], [True, True]])
    got = compensate(delta, keep, h, damp=0.0)
    assert got.tolist() == [[1.5, 0.0], [3.0, -2.0]]  # a fully kept row is unchanged
    err = lambda w: float((w - delta[0]) @ h @ (w - delta[0]))  # noqa: E731
    assert err(got[0]) == 1.5 and err(torch.tensor([1.0, 0.0])) == 2.0
    # a diagonal Hessian gives no correction: the plain sparse patch
    plain = compensate(delta, keep, torch.eye(2) * 3, damp=0.0)
    assert plain.tolist() == [[1.0, 0.0], [3.0, -2.0]]
    with pytest.raises(ValueError, match="mismatch"):
        compensate(delta, keep, torch.eye(3))
