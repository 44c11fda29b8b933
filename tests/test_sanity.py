"""Tests of lmac_brain.sanity: randomisation leaves the original intact and changes model-based masks."""

import torch

from lmac_brain.baselines import Saliency
from lmac_brain.classifier import AudioClassifier, Cnn14
from lmac_brain.frontend import Frontend
from lmac_brain.sanity import randomization_test, randomized_classifiers, spearman


def test_randomisation_is_cumulative_and_leaves_the_original_untouched():
    torch.manual_seed(0)
    clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3))
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    steps = dict(randomized_classifiers(clf))
    assert all(torch.equal(before[k], v) for k, v in clf.state_dict().items())
    head_only = steps["head"].state_dict()
    assert not torch.equal(head_only["head.weight"], before["head.weight"])
    assert torch.equal(head_only["embedding_model.conv_block6.conv1.weight"], before["embedding_model.conv_block6.conv1.weight"])
    deep = steps["conv_block4"].state_dict()
    assert not torch.equal(deep["embedding_model.conv_block5.conv1.weight"], before["embedding_model.conv_block5.conv1.weight"])


def test_saliency_changes_when_the_model_is_randomised():
    torch.manual_seed(0)
    fe = Frontend()
    clf = AudioClassifier(Cnn14(80, 32, 0.125, return_reps=True), torch.nn.Linear(32, 3)).eval()
    out = randomization_test(lambda c: Saliency(fe, c), clf, torch.randn(2, 8000) * 0.2)
    assert out["conv_block1"].shape == (2,)
    assert (out["conv_block1"] < 0.95).all()


def test_spearman_range():
    a = torch.rand(3, 20)
    rho = spearman(a, torch.rand(3, 20))
    assert ((rho >= -1) & (rho <= 1)).all()
    assert torch.allclose(spearman(a, a), torch.ones(3))


def test_levels_select_steps_and_reject_unknown_names():
    import pytest

    fe = Frontend()
    clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3)).eval()
    wavs = torch.randn(1, 8000) * 0.2
    full = randomization_test(lambda c: Saliency(fe, c), clf, wavs)
    some = randomization_test(lambda c: Saliency(fe, c), clf, wavs, levels=["head", "conv_block3"])
    assert list(some) == ["head", "conv_block3"]
    assert torch.allclose(some["conv_block3"], full["conv_block3"])
    with pytest.raises(ValueError, match="conv_block9"):
        randomization_test(lambda c: Saliency(fe, c), clf, wavs, levels=["conv_block9"])
