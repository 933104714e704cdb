"""MANU's neuron math (smfa.neurons) on hand-computed tensors."""

from __future__ import annotations

import math

import pytest
import torch

from smfa.neurons import (
    ActivationStats,
    combine_modalities,
    importance_ratio,
    prune_delta,
    select_neurons,
)


def test_importance_of_two_neurons_added_in_two_chunks():
    # neuron 0 sees 1, 3; neuron 1 sees -2, 0
    st = ActivationStats(2)
    st.add(torch.tensor([[1.0, -2.0]]))
    st.add(torch.tensor([[3.0, 0.0]]))
    imp = st.importance()
    assert imp["abs"].tolist() == [2.0, 1.0]
    assert imp["freq"].tolist() == [1.0, 0.0]
    assert imp["var"].tolist() == [1.0, 1.0]  # E[a²] − E[a]²: 5 − 4, 2 − 1
    assert imp["rms"].tolist() == pytest.approx([math.sqrt(5), math.sqrt(2)])
    with pytest.raises(ValueError, match="no activations"):
        ActivationStats(2).importance()


def test_ratio_is_the_mean_of_the_four_forget_over_retain_ratios():
    f = {
        "abs": torch.tensor([2.0]),
        "freq": torch.tensor([1.0]),
        "var": torch.tensor([4.0]),
        "rms": torch.tensor([3.0]),
    }
    r = {
        "abs": torch.tensor([1.0]),
        "freq": torch.tensor([0.5]),
        "var": torch.tensor([4.0]),
        "rms": torch.tensor([1.0]),
    }
    # (2 + 2 + 1 + 3) / 4 = 2
    assert importance_ratio(f, r, eps=0.0).tolist() == [2.0]


def test_modalities_combine_by_max_or_mean():
    img, txt = torch.tensor([1.0, 4.0, 2.0]), torch.tensor([3.0, 0.0, 2.0])
    assert combine_modalities([img, txt], "max").tolist() == [3.0, 4.0, 2.0]
    assert combine_modalities([img, txt], "mean").tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError):
        combine_modalities([img], "sum")


def test_select_top_ratio_ties_to_lower_index():
    s = torch.tensor([0.5, 3.0, 1.0, 3.0, 0.1])
    assert select_neurons(s, 0.4).tolist() == [False, True, False, True, False]  # 2 of 5
    assert select_neurons(s, 0.2).tolist() == [False, True, False, False, False]  # tie: index 1
    assert select_neurons(s, 0.01).sum() == 1  # at least one
    assert not select_neurons(s, 0.0).any()


def test_prune_delta_zeroes_up_rows_and_down_columns():
    up = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # 3 neurons, hidden 2
    bias = torch.tensor([7.0, 8.0, 9.0])
    down = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([False, True, False])
    d = prune_delta({"up.weight": up, "up.bias": bias}, ("down.weight", down), mask)
    assert (up + d["up.weight"]).tolist() == [[1.0, 2.0], [0.0, 0.0], [5.0, 6.0]]
    assert (bias + d["up.bias"]).tolist() == [7.0, 0.0, 9.0]
    assert (down + d["down.weight"]).tolist() == [[1.0, 0.0, 3.0], [4.0, 0.0, 6.0]]
    # the pruned neuron contributes nothing: MLP output without it
    x = torch.tensor([1.0, 1.0])
    h = (up + d["up.weight"]) @ x
    assert ((down + d["down.weight"]) @ h).tolist() == (down[:, [0, 2]] @ (up[[0, 2]] @ x)).tolist()
