"""Tests of lmac_brain.evaluation.sanity: randomisation leaves the original intact and changes model-based masks."""

import torch

from lmac_brain.evaluation.sanity import randomization_test, randomized_classifiers, spearman
from lmac_brain.explain.baselines import Saliency
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.frontend import Frontend


def test_randomisation_is_cumulative_and_leaves_the_original_untouched():
    torch.manual_seed(0)
    clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3))
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    steps = dict(randomized_classifiers(clf))
    assert all(torch.equal(before[k], v) for k, v in clf.state_dict().items())
    head_only = steps["head"].state_dict()
    assert not torch.equal(head_only["head.weight"], before["head.weight"])
    assert torch.equal(
        head_only["embedding_model.conv_block6.conv1.weight"], before["embedding_model.conv_block6.conv1.weight"]
    )
    deep = steps["conv_block4"].state_dict()
    assert not torch.equal(
        deep["embedding_model.conv_block5.conv1.weight"], before["embedding_model.conv_block5.conv1.weight"]
    )


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


def test_spearman_is_tie_aware_like_scipy():
    from scipy import stats

    # Two masks constant except for 3 bins at different places: ranking the ties by position made these
    # look correlated (0.81); with average ranks for ties they are not.
    one, other = torch.zeros(1, 400), torch.zeros(1, 400)
    one[0, [10, 50, 90]] = torch.tensor([0.3, 0.6, 0.9])
    other[0, [200, 250, 300]] = torch.tensor([0.3, 0.6, 0.9])
    rho = float(spearman(one, other)[0])
    assert abs(rho - stats.spearmanr(one[0].numpy(), other[0].numpy()).statistic) < 1e-6
    assert abs(rho) < 0.05
    # Many zeros, like Grad-CAM after its ReLU: same answer as scipy on random sparse masks.
    g = torch.Generator().manual_seed(0)
    a = torch.relu(torch.randn(4, 30, 20, generator=g) - 1.0)
    b = torch.relu(torch.randn(4, 30, 20, generator=g) - 1.0)
    expected = [stats.spearmanr(x.flatten().numpy(), y.flatten().numpy()).statistic for x, y in zip(a, b)]
    assert torch.allclose(spearman(a, b), torch.tensor(expected, dtype=torch.float32), atol=1e-6)


def test_spearman_of_a_constant_mask_is_nan_and_counted_in_the_tables():
    from lmac_brain.evaluation.tables import mean_ci

    a = torch.rand(3, 50)
    b = a.clone()
    b[1] = 0.5  # an explainer that gave a constant mask for item 1
    rho = spearman(a, b)
    assert rho[1].isnan() and torch.allclose(rho[[0, 2]], torch.ones(2))
    stat = mean_ci(rho.tolist())
    assert stat["mean"] == 1.0 and stat["n"] == 2 and stat["undefined"] == 1
