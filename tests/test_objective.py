"""Tests of lmac_brain.explain.objective and the LMAC chain: hand-computed terms, batch-size independence,
gradient flow, FT gate and oracle."""

import math

import pytest
import torch

from lmac_brain.explain.lmac import LMAC
from lmac_brain.explain.objective import ft_guidance, l1_term, lmac_loss, tv_term
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend


class ToyClassifier(torch.nn.Module):
    """Logits = W @ [mean of log1p|X| over the lower / upper half of the bins]: easy to work out by hand."""

    def __init__(self):
        super().__init__()
        self.weight = torch.tensor([[2.0, 0.0], [0.0, 1.0]])

    def forward(self, logmag):
        half = logmag.shape[-1] // 2
        feats = torch.stack([logmag[..., :half].mean((1, 2)), logmag[..., half:].mean((1, 2))], dim=1)
        return feats @ self.weight.T


def test_loss_terms_by_hand_on_a_toy_classifier():
    clf = ToyClassifier()
    logmag = torch.ones(1, 2, 4)  # lower and upper halves have mean 1
    mask = torch.tensor([[[1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]]])  # keep the lower half
    logits = clf(logmag)  # [2, 1] -> class 0
    target = logits.argmax(-1)
    logits_in, logits_out = clf(mask * logmag), clf((1 - mask) * logmag)  # [2, 0] and [0, 1]
    loss, terms = lmac_loss(logits_in, logits_out, target, mask, w_in=4, w_out=0.2, w_l1=0.4, w_tv=1.0)
    ce_in = math.log(1 + math.exp(-2))  # softmax([2, 0])[0]
    ce_out = math.log(1 + math.exp(1))  # softmax([0, 1])[0]
    tv = 0.0 + 1.0 / 3  # no change along time; one jump of 1 among 3 frequency steps
    assert target.item() == 0
    assert terms["ce_in"].item() == pytest.approx(ce_in, abs=1e-6)
    assert terms["ce_out"].item() == pytest.approx(ce_out, abs=1e-6)
    assert terms["l1"].item() == pytest.approx(0.5)
    assert terms["tv"].item() == pytest.approx(tv)
    assert loss.item() == pytest.approx(4 * ce_in - 0.2 * ce_out + 0.4 * 0.5 + 1.0 * tv, abs=1e-6)


def test_l1_does_not_depend_on_batch_size():
    torch.manual_seed(0)
    mask = torch.rand(1, 5, 7)
    logits = torch.randn(1, 3)
    target = torch.tensor([1])
    one, _ = lmac_loss(logits, logits, target, mask, w_in=0, w_out=0, w_l1=1.0)
    many, _ = lmac_loss(
        logits.repeat(16, 1), logits.repeat(16, 1), target.repeat(16), mask.repeat(16, 1, 1), w_in=0, w_out=0, w_l1=1.0
    )
    assert one.item() == pytest.approx(mask.mean().item(), rel=1e-6)
    assert many.item() == pytest.approx(one.item(), rel=1e-6)  # the reference would give 16x


def test_regularize_switches_l1_off_per_sample():
    mask = torch.ones(2, 3, 3)
    logits = torch.zeros(2, 2)
    loss, _ = lmac_loss(
        logits, logits, torch.tensor([0, 0]), mask, w_in=0, w_out=0, w_l1=1.0, regularize=torch.tensor([1.0, 0.0])
    )
    assert loss.item() == pytest.approx(0.5)


def test_terms_per_sample_shapes():
    m = torch.rand(4, 6, 5)
    assert l1_term(m).shape == tv_term(m).shape == (4,)
    assert torch.equal(tv_term(torch.ones(2, 6, 5)), torch.zeros(2))


def test_gradients_flow_only_into_the_decoder():
    torch.manual_seed(0)
    emb = Cnn14(80, 32, 0.125, return_reps=True)
    lmac = LMAC(
        Frontend(),
        AudioClassifier(emb, torch.nn.Linear(32, 4)),
        LMACDecoder(rep_channels(emb), hidden=8, out_channels=4),
    )
    lmac.train()
    assert not lmac.classifier.training, "the classifier must stay in eval mode"
    bn_before = emb.norm0.running_mean.clone()
    out = lmac(torch.randn(2, 8000) * 0.1)
    loss, _ = lmac_loss(out["logits_in"], out["logits_out"], out["logits"].argmax(-1), out["mask"])
    loss.backward()
    assert all(p.grad is None for p in lmac.classifier.parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in lmac.decoder.parameters())
    assert any(p.grad.abs().sum() > 0 for p in lmac.decoder.parameters())
    assert torch.equal(emb.norm0.running_mean, bn_before), "classifier BN statistics changed"


def test_ft_gate_and_oracle_on_a_constructed_example():
    # Clean: energy in the first 2 of 4 bins; noisy adds energy in the last 2.
    clean = torch.tensor([[[2.0, 1.0, 0.0, 0.0], [2.0, 0.5, 0.0, 0.0]]])
    noisy = clean + torch.tensor([[[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]]])
    oracle_expected = torch.tensor([[[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]])  # >= 0.35 * 2.0 = 0.7
    good = torch.tensor([[[0.9, 0.9, 0.1, 0.1], [0.9, 0.9, 0.1, 0.1]]])  # isolates the clean part
    bad = torch.tensor([[[0.1, 0.1, 0.9, 0.9], [0.1, 0.1, 0.9, 0.9]]])  # keeps the noise
    masks = torch.cat([good, bad])
    gate, oracle, bce = ft_guidance(masks, noisy.repeat(2, 1, 1), clean.repeat(2, 1, 1), gate_threshold=0.6)
    masked = (good * noisy).flatten()
    cos_good = torch.dot(masked, clean.flatten()) / (masked.norm() * clean.flatten().norm())
    assert cos_good > 0.6
    assert gate.tolist() == [1.0, 0.0]
    assert torch.equal(oracle[0], oracle_expected[0]) and torch.equal(oracle[1], oracle_expected[0])
    expected_bce = torch.nn.functional.binary_cross_entropy(good, oracle_expected).item()
    assert bce[0].item() == pytest.approx(expected_bce, rel=1e-5)


def test_threshold_binarises_only_outside_training():
    torch.manual_seed(0)
    emb = Cnn14(80, 32, 0.125, return_reps=True)
    lmac = LMAC(
        Frontend(),
        AudioClassifier(emb, torch.nn.Linear(32, 4)),
        LMACDecoder(rep_channels(emb), hidden=8, out_channels=4),
        threshold=0.5,
    )
    wav = torch.randn(1, 8000)
    assert set(lmac.eval().explain(wav).unique().tolist()) <= {0.0, 1.0}
    lmac.train()
    assert lmac(wav)["mask"].unique().numel() > 2


def test_ft_guidance_guides_only_the_items_the_clean_clip_is_evidence_for():
    from lmac_brain.explain.objective import ft_guidance

    clean = torch.rand(3, 5, 7)
    noisy = clean + 0.1 * torch.rand(3, 5, 7)
    mask = torch.full((3, 5, 7), 0.9)  # keeps the clean clip well: every item passes the cosine gate
    gate, oracle, bce = ft_guidance(mask, noisy, clean)
    assert gate.tolist() == [1.0, 1.0, 1.0]
    gated, oracle2, bce2 = ft_guidance(mask, noisy, clean, evidence=torch.tensor([True, False, True]))
    assert gated.tolist() == [1.0, 0.0, 1.0] and torch.equal(oracle, oracle2) and torch.equal(bce, bce2)
