"""Contract tests over every explainer (L-MAC and the baselines): shape, range, finiteness,
determinism, and a batch with per-example targets equal to each example explained alone."""

import pytest
import torch

from lmac_brain.explain import baselines as bl
from lmac_brain.explain.lmac import LMAC
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend

FAST = {
    "Saliency": {},
    "SmoothGrad": {"n_samples": 3, "batch_size": 3},
    "IntegratedGradients": {"n_steps": 6, "internal_batch_size": 6},
    "GradientSHAP": {"n_samples": 3},
    "GradCAM": {},
    "GuidedBackprop": {},
    "GuidedGradCAM": {},
    "RISE": {"n_masks": 12, "batch_size": 6},
}
STOCHASTIC = {"SmoothGrad", "GradientSHAP"}  # their noise draws depend on the batch composition


@pytest.fixture(scope="module")
def toy():
    torch.manual_seed(0)
    emb = Cnn14(80, 32, 0.125, return_reps=True)
    clf = AudioClassifier(emb, torch.nn.Linear(32, 4)).eval()
    with torch.no_grad():  # non-trivial BN statistics
        clf.train()(torch.rand(8, 60, 80) * 3)
    clf.eval()
    fe = Frontend()
    wavs = torch.randn(3, 6000) * 0.2
    return fe, clf, wavs, emb


def make(name, fe, clf, emb):
    if name == "LMAC":
        torch.manual_seed(1)
        return LMAC(fe, clf, LMACDecoder(rep_channels(emb), hidden=8, out_channels=4)).eval()
    return getattr(bl, name)(fe, clf, **FAST[name])


@pytest.mark.parametrize("name", list(FAST) + ["LMAC"])
def test_explainer_contract(toy, name):
    fe, clf, wavs, emb = toy
    explainer = make(name, fe, clf, emb)
    torch.manual_seed(0)
    mask = explainer.explain(wavs)
    assert mask.shape == (3, fe.n_frames(6000), 513)
    assert torch.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1
    torch.manual_seed(0)
    assert torch.allclose(explainer.explain(wavs), mask, atol=1e-6), "not deterministic"
    if name in STOCHASTIC or name == "LMAC":
        return
    targets = [0, 3, 1]
    batch = explainer.explain(wavs, target=targets)
    for i, t in enumerate(targets):
        alone = explainer.explain(wavs[i : i + 1], target=t)
        assert torch.allclose(batch[i : i + 1], alone, atol=1e-4), f"example {i} differs when batched"


def test_gradient_methods_are_not_trivial(toy):
    fe, clf, wavs, emb = toy
    for name in ("Saliency", "IntegratedGradients", "GradCAM", "GuidedBackprop", "RISE"):
        mask = make(name, fe, clf, emb).explain(wavs[:1])
        assert mask.max() == pytest.approx(1.0) and mask.std() > 0, name


def test_target_grammar_errors(toy):
    fe, clf, wavs, emb = toy
    with pytest.raises(ValueError, match="one class per example"):
        bl.Saliency(fe, clf).explain(wavs, target=[0, 1])
    with pytest.raises(ValueError, match="out of range"):
        bl.Saliency(fe, clf).explain(wavs, target=7)


def test_noise_based_methods_stay_finite_on_quiet_inputs(toy):
    """Noise pushes log1p|X| below zero on quiet bins; that must not turn masks into NaN."""
    fe, clf, _, emb = toy
    quiet = torch.randn(2, 6000) * 1e-3
    for name in ("SmoothGrad", "GradientSHAP"):
        explainer = (
            getattr(bl, name)(fe, clf, n_samples=4, stdev=0.5)
            if name == "GradientSHAP"
            else bl.SmoothGrad(fe, clf, n_samples=4, stdev=1.0)
        )
        mask = explainer.explain(quiet)
        assert torch.isfinite(mask).all(), name
