"""Tests of lmac_brain.evalsets: mixing rules, reproducibility, fold handling."""

import pytest
import torch

from lmac_brain.evalsets import CONDITIONS, contaminate, esc50_evaluation_sets


@pytest.mark.parametrize("tiny_esc50", ["flac"], indirect=True)
def test_sets_are_bit_identical_across_runs_and_differ_across_seeds(tiny_esc50, noise_folder):
    def build(seed):
        return esc50_evaluation_sets(str(tiny_esc50), 16000, str(noise_folder), str(noise_folder), seed=seed)

    first, second, other = build(7), build(7), build(8)
    assert set(first) == set(CONDITIONS)
    for cond in CONDITIONS:
        assert len(first[cond]) == 2 * 2  # 2 clips in fold 5, 2 contaminations each
        for i in range(len(first[cond])):
            id_a, mix_a, clean_a = first[cond][i]
            id_b, mix_b, _ = second[cond][i]
            assert id_a == id_b and torch.equal(mix_a, mix_b)
            assert id_a.startswith("5-") and mix_a.shape == clean_a.shape
        assert not torch.equal(first[cond][0][1], other[cond][0][1])
        assert not torch.equal(first[cond][0][1], first[cond][1][1]), "two contaminations of a clip are equal"


@pytest.mark.parametrize("tiny_esc50", ["flac"], indirect=True)
def test_mixture_contaminants_come_from_other_folds(tiny_esc50, noise_folder):
    sets = esc50_evaluation_sets(str(tiny_esc50), 16000, str(noise_folder), str(noise_folder), test_fold=5)
    assert sets["mixtures"].contaminants and all("/5-" not in p for p in sets["mixtures"].contaminants)
    with pytest.raises(ValueError, match="fold 9 has no clips"):
        esc50_evaluation_sets(str(tiny_esc50), 16000, str(noise_folder), str(noise_folder), test_fold=9)


def test_contaminate_follows_the_paper_rule():
    torch.manual_seed(0)
    s, n = torch.randn(1000), torch.randn(1000)
    for w_s, w_n in CONDITIONS.values():
        mix = contaminate(s, n, w_s, w_n)
        expected = w_s * s / s.norm() + w_n * n / n.norm()
        assert torch.allclose(mix, expected / expected.abs().max(), atol=1e-6)
    # 0.8 / 0.2 is about +12 dB, 1 / 0.5 about +6 dB
    assert 20 * torch.log10(torch.tensor(0.8 / 0.2)).item() == pytest.approx(12.04, abs=0.01)
