"""Tests of lmac_brain.evaluation.metrics against values worked out by hand."""

import math

import pytest
import torch

from lmac_brain.evaluation.metrics import METRIC_NAMES, all_metrics, complexity, faithfulness, sparseness


def logits_of(*probs):
    return torch.log(torch.tensor(probs, dtype=torch.float64))


def test_faithfulness_by_hand():
    x = logits_of([0.6, 0.3, 0.1])  # c = 0, Y = 0.6
    m = faithfulness(x, logits_of([0.9, 0.05, 0.05]), logits_of([0.2, 0.7, 0.1]))
    assert m["AI"].item() == 100.0
    assert m["AD"].item() == 0.0
    assert m["AG"].item() == pytest.approx(100 * 0.3 / 0.4)
    assert m["FF"].item() == pytest.approx(0.4)
    assert m["Fid-In"].item() == 1.0
    m = faithfulness(x, logits_of([0.3, 0.6, 0.1]), logits_of([0.6, 0.3, 0.1]))
    assert (m["AI"].item(), m["AG"].item(), m["Fid-In"].item()) == (0.0, 0.0, 0.0)
    assert m["AD"].item() == pytest.approx(50.0)
    assert m["FF"].item() == pytest.approx(0.0)


def test_explicit_target_and_double_softmax_compat():
    x, x_in = logits_of([0.6, 0.4]), logits_of([0.3, 0.7])
    m = faithfulness(x, x_in, x, target=torch.tensor([1]))
    assert m["AI"].item() == 100.0 and m["Fid-In"].item() == 1.0
    compat = faithfulness(x, x_in, x, double_softmax=True)
    y2 = torch.softmax(torch.tensor([0.6, 0.4], dtype=torch.float64), 0)[0]
    o2 = torch.softmax(torch.tensor([0.3, 0.7], dtype=torch.float64), 0)[0]
    assert compat["AD"].item() == pytest.approx(100 * (y2 - o2).item() / y2.item())
    assert compat["AD"].item() < faithfulness(x, x_in, x)["AD"].item()  # the compression the flag reproduces


def test_sparseness_and_complexity_by_hand():
    mask = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    a = torch.tensor([1e-7, 1e-7, 1 + 1e-7, 1 + 1e-7])
    gini = sum((2 * i - 4 - 1) * v for i, v in enumerate(a.tolist(), start=1)) / (4 * a.sum().item())
    assert sparseness(mask).item() == pytest.approx(gini, rel=1e-5)
    assert complexity(mask).item() == pytest.approx(math.log(2), rel=1e-6)
    assert sparseness(torch.ones(1, 10)).item() == pytest.approx(0.0, abs=1e-6)
    assert complexity(torch.ones(1, 10)).item() == pytest.approx(math.log(10))


def test_all_metrics_are_per_sample():
    torch.manual_seed(0)
    b = 5
    out = all_metrics(torch.randn(b, 4), torch.randn(b, 4), torch.randn(b, 4), torch.rand(b, 3, 6))
    assert list(out) == list(METRIC_NAMES)
    assert all(v.shape == (b,) and torch.isfinite(v).all() for v in out.values())
    with pytest.raises(ValueError, match=r"\[B, C\]"):
        faithfulness(torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 3))
