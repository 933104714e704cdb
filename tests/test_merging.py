"""Task arithmetic and TIES on ΔW, hand-computed."""

import pytest
import torch

torch.set_num_threads(1)

from smfa.merging import task_arithmetic, ties_merge, trim  # noqa: E402


def test_task_arithmetic_negates():
    d = torch.tensor([[1.0, -2.0], [0.0, 4.0]])
    assert torch.equal(task_arithmetic(d, 0.5), torch.tensor([[-0.5, 1.0], [0.0, -2.0]]))
    assert task_arithmetic(d.bfloat16(), 1.0).dtype == torch.bfloat16


def test_trim_hand():
    t = torch.tensor([3.0, -1.0, 2.0, -4.0])
    assert torch.equal(trim(t, 0.5), torch.tensor([3.0, 0.0, 0.0, -4.0]))  # keep int(2.0) = 2
    assert torch.equal(trim(t, 1.0), t)
    assert torch.equal(trim(t, 0.0), torch.zeros(4))
    # equal magnitudes: the earlier entry wins (deterministic); int(0.34 · 3) = 1 kept
    assert torch.equal(trim(torch.tensor([1.0, -1.0, 1.0]), 0.34), torch.tensor([1.0, 0, 0]))
    with pytest.raises(ValueError, match="density"):
        trim(t, 1.5)


# density 0.6 of 5 entries keeps 3 per tensor:
#   τ1 = [ 4, -1,  2, 0.5,  3  ] → [ 4,  0,  2, 0,  3  ]
#   τ2 = [-2, -3,  1, 0.4, -3.5] → [-2, -3,  0, 0, -3.5]
#   τ3 = [ 1,  2, -5, 0.1,  0.5] → [ 1,  2, -5, 0,  0  ]
# Σ = [3, -1, -3, 0, -0.5] → elected sign γ = [+, -, -, + (sum 0 → +), -]
# disjoint mean over agreeing nonzero entries:
#   e0: {4, 1} → 2.5;  e1: {-3} → -3;  e2: {-5} → -5;  e3: {} → 0;  e4: {-3.5} → -3.5
T1 = torch.tensor([4.0, -1.0, 2.0, 0.5, 3.0])
T2 = torch.tensor([-2.0, -3.0, 1.0, 0.4, -3.5])
T3 = torch.tensor([1.0, 2.0, -5.0, 0.1, 0.5])


def test_ties_hand():
    got = ties_merge([T1, T2, T3], density=0.6)
    assert torch.equal(got, torch.tensor([2.5, -3.0, -5.0, 0.0, -3.5]))


def test_ties_weights_after_election():
    # weights [1, 2, 1] scale the agreeing entries, the sign is elected on unweighted values:
    #   e0: (4 + 1)/2 = 2.5;  e1: 2·(-3) = -6;  e2: -5;  e3: 0;  e4: 2·(-3.5) = -7
    got = ties_merge([T1, T2, T3], density=0.6, weights=[1.0, 2.0, 1.0])
    assert torch.equal(got, torch.tensor([2.5, -6.0, -5.0, 0.0, -7.0]))


def test_ties_density_one_two_tensors():
    # no trimming: agree → mean; disagree → the larger-sum sign's value alone
    a, b = torch.tensor([[1.0, -3.0]]), torch.tensor([[3.0, 1.0]])
    assert torch.equal(ties_merge([a, b], 1.0), torch.tensor([[2.0, -3.0]]))


def test_ties_matches_peft_on_random():
    from peft.utils.merge_utils import ties

    g = torch.Generator().manual_seed(0)
    ts = [torch.randn(8, 6, generator=g) for _ in range(3)]
    w = torch.tensor([0.5, 1.0, 2.0])
    torch.testing.assert_close(
        ties_merge(ts, 0.5, weights=w.tolist()), ties(ts, w, 0.5), rtol=0, atol=1e-6
    )


def test_ties_errors():
    with pytest.raises(ValueError):
        ties_merge([], 0.5)
    with pytest.raises(ValueError, match="shape"):
        ties_merge([torch.ones(2), torch.ones(3)], 0.5)
    with pytest.raises(ValueError, match="weights"):
        ties_merge([torch.ones(2)], 0.5, weights=[1.0, 2.0])
