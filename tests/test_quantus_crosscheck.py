"""The matched-budget curves (bins) against Quantus's Pixel-Flipping (Bach et al., 2015).

Quantus (``quantus.PixelFlipping``) removes the features of an attribution one by one, highest first,
replacing them with a baseline, and reads the target class's probability after each step. With the
baseline 0 (a removed ``log1p|X|`` bin, the project's masking in the ``log1p`` domain) its curve after
``k`` steps is our deletion at the budget of ``k`` bins; run on the reversed attribution ``1 - a`` (lowest first),
its curve after ``n - k`` steps is our insertion at ``k`` bins (only the top ``k`` left). The
matched-energy unit has no counterpart in Quantus; :mod:`tests.test_budget` checks it by hand.
Attributions here are tie-free: Quantus orders ties by ``numpy.argsort``, the project by a seeded order.
"""

import numpy as np
import pytest
import quantus
import torch

from lmac_brain.evaluation.budget import BUDGETS, budget_curves
from lmac_brain.models.frontend import Frontend

T, F = 10, 10  # 100 bins: every budget of the grid is a whole number of bins


class TinyNet(torch.nn.Module):
    """A small convolutional classifier of ``[N, 1, T, F]`` spectrogram-like inputs (3 classes)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.head = torch.nn.Linear(4 * T * F, 3)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).flatten(1))


@pytest.fixture
def case():
    torch.manual_seed(0)
    net = TinyNet().eval()
    for p in net.parameters():  # probabilities that move as bins go
        torch.nn.init.normal_(p, std=0.1)
    logmag = torch.rand(4, T, F) * 3.0
    attribution = torch.rand(4, T, F)  # continuous: no ties
    target = torch.tensor([0, 1, 2, 1])
    return net, logmag, attribution, target


def _pixel_flipping(net, logmag, attribution, target):
    """Quantus's curve ``[B, T*F]``: the target's probability after removing 1, 2, ..., T*F features."""
    metric = quantus.PixelFlipping(
        features_in_step=1, perturb_baseline=0.0, normalise=False, abs=False, disable_warnings=True
    )
    curves = metric(
        model=net,
        x_batch=logmag[:, None].numpy(),
        y_batch=target.numpy(),
        a_batch=attribution[:, None].numpy(),
        channel_first=True,
        softmax=True,
        device="cpu",
    )
    return np.asarray(curves)


@pytest.mark.parametrize(
    "apply_mask", [lambda x, m: x * m, lambda x, m: Frontend().apply_mask(x, m, "log1p")], ids=["product", "frontend"]
)
def test_deletion_and_insertion_equal_quantus_pixel_flipping(case, apply_mask):
    net, logmag, attribution, target = case
    ours = budget_curves(lambda x: net(x.unsqueeze(1)), logmag, attribution, target, apply_mask, chunk=3)
    deletion = _pixel_flipping(net, logmag, attribution, target)
    insertion = _pixel_flipping(net, logmag, 1.0 - attribution, target)  # lowest first: the top k stay
    n = T * F
    counts = [int(round(q * n)) for q in BUDGETS]
    expected_del = deletion[:, [k - 1 for k in counts]]
    expected_ins = insertion[:, [n - k - 1 for k in counts]]
    np.testing.assert_allclose(ours["deletion"].numpy(), expected_del, atol=1e-5)
    np.testing.assert_allclose(ours["insertion"].numpy(), expected_ins, atol=1e-5)
    # not a vacuous match: the curves move with the budget and differ between the two orders
    assert np.ptp(expected_del, axis=1).min() > 0.01
    assert np.abs(expected_ins - expected_del).max() > 0.05


def test_another_ranking_does_not_match_quantus(case):
    """The cross-check can fail: ranking by another map than the one Quantus flips gives other curves."""
    net, logmag, attribution, target = case
    ours = budget_curves(lambda x: net(x.unsqueeze(1)), logmag, torch.rand(4, T, F), target, lambda x, m: x * m)
    deletion = _pixel_flipping(net, logmag, attribution, target)
    counts = [int(round(q * T * F)) for q in BUDGETS]
    assert np.abs(ours["deletion"].numpy() - deletion[:, [k - 1 for k in counts]]).max() > 1e-3
