"""Tests of the amortisation-gap diagnostic: the decoder's training objective minimised per example."""

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml

from lmac_brain.explain.extremal import ObjectiveOptimum
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.frontend import Frontend

WEIGHTS = {"w_in": 4.0, "w_out": 0.2, "w_l1": 0.0, "w_tv": 0.0, "w_area": 50.0, "area": 0.25}


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3)).eval()


def test_an_item_gets_the_same_mask_alone_and_in_a_batch(classifier):
    opt = ObjectiveOptimum(Frontend(), classifier, WEIGHTS, steps=5)
    wavs = torch.randn(3, 8000, generator=torch.Generator().manual_seed(1))
    together = opt.explain(wavs, target=[0, 1, 2])
    alone = opt.explain(wavs[1:2], target=[1])
    assert torch.allclose(together[1:2], alone, atol=1e-4)


def test_optimising_lowers_the_kept_part_cross_entropy(classifier):
    fe = Frontend()
    wavs = torch.randn(2, 8000, generator=torch.Generator().manual_seed(2))
    target = torch.tensor([0, 2])
    logmag, _ = fe.log_magnitude_phase(wavs)

    def kept_ce(mask):
        with torch.no_grad():
            logits = classifier(fe.features(fe.apply_mask(logmag, mask, "log1p")))[0]
        return float(torch.nn.functional.cross_entropy(logits, target))

    start = kept_ce(torch.full_like(logmag, 0.5))  # the optimisation starts from logits 0
    mask = ObjectiveOptimum(fe, classifier, WEIGHTS, steps=20).explain(wavs, target=target)
    assert kept_ce(mask) < start


def test_rank_scores_follow_rank_power(classifier):
    mask, logmag = torch.tensor([[[1.0, 0.5]]]), torch.tensor([[[1.0, 3.0]]])
    assert ObjectiveOptimum(Frontend(), classifier, WEIGHTS).rank_scores(mask, logmag).tolist() == [[[1.0, 0.75]]]
    assert torch.equal(
        ObjectiveOptimum(Frontend(), classifier, WEIGHTS, rank_power=None).rank_scores(mask, logmag), mask
    )


def test_the_eval_recipe_runs_the_diagnostic_only_when_named(repo_root):
    with open(repo_root / "hparams/eval_cnn14_cpu.yaml", encoding="utf-8") as f:
        text = f.read()
    overrides = {
        "data_folder": "unused",
        "noise_folder": "unused",
        "speech_folder": "unused",
        "classifier_source": str(repo_root / "pretrained/lmac_cnn14_cpu_esc50"),
    }
    hparams = load_hyperpyyaml(text, overrides)
    assert "Optimized-objective" in hparams["explainers"] and "Optimized-objective" not in hparams["methods"]
    opt = hparams["explainers"]["Optimized-objective"](hparams["frontend"], hparams["classifier"])
    assert opt.loss_weights == WEIGHTS and (opt.budget_weight, opt.budget_w_del) == (4.0, 16.0)
