"""LMACBrain's hooks that need no recipe run: the classes a conditional decoder is trained to explain."""

import pytest
import torch


def test_training_samples_the_decision_runners_up_and_random_classes():
    from types import SimpleNamespace

    from lmac_brain.training.brain import LMACBrain

    brain = SimpleNamespace(
        hparams=SimpleNamespace(target_sampling={"decision": 0.5, "top_k": 0.35, "k": 3, "random": 0.15})
    )
    logits = torch.tensor([[5.0, 4.0, 3.0, 0.0, -1.0, -2.0]]).repeat(4000, 1)
    torch.manual_seed(0)
    target = LMACBrain._sample_targets(brain, logits)
    share = torch.bincount(target, minlength=6).float() / len(target)
    assert abs(share[0] - (0.5 + 0.15 / 6)) < 0.03  # the decision (also drawn at random)
    assert abs(share[1] - (0.35 / 2 + 0.15 / 6)) < 0.03 and abs(share[2] - (0.35 / 2 + 0.15 / 6)) < 0.03
    assert abs(share[3:].sum() - 3 * 0.15 / 6) < 0.02  # only drawn at random


def test_training_samples_the_labelled_class_with_its_share():
    """target_sampling's ``label`` share explains the clip's labelled class (here never the decision)."""
    from types import SimpleNamespace

    from lmac_brain.training.brain import LMACBrain

    shares = {"decision": 0.4, "top_k": 0.2, "k": 3, "label": 0.3, "random": 0.1}
    brain = SimpleNamespace(hparams=SimpleNamespace(target_sampling=shares))
    logits = torch.tensor([[5.0, 4.0, 3.0, 0.0, -1.0, -2.0]]).repeat(4000, 1)
    labels = torch.full((4000,), 4)
    torch.manual_seed(0)
    target = LMACBrain._sample_targets(brain, logits, labels)
    share = torch.bincount(target, minlength=6).float() / len(target)
    assert abs(share[4] - (0.3 + 0.1 / 6)) < 0.03  # the label (also drawn at random)
    assert abs(share[0] - (0.4 + 0.1 / 6)) < 0.03 and abs(share[1] - (0.1 + 0.1 / 6)) < 0.03
    with pytest.raises(ValueError, match="no labels"):
        LMACBrain._sample_targets(brain, logits)
    brain.hparams.target_sampling = dict(
        shares, label=0.0, random=0.4
    )  # without a label share, the same draws as before
    torch.manual_seed(0)
    plain = LMACBrain._sample_targets(brain, logits, labels)
    brain.hparams.target_sampling = {k: v for k, v in shares.items() if k != "label"} | {"random": 0.4}
    torch.manual_seed(0)
    assert torch.equal(LMACBrain._sample_targets(brain, logits), plain)
    brain.hparams.target_sampling = {"decision": 0.5, "top_k": 0.2, "k": 3, "randon": 0.3}
    with pytest.raises(ValueError, match="optionally label"):
        LMACBrain._sample_targets(brain, logits)
