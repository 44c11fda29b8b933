"""Tests of lmac_brain.evaluation.evalsets: mixing rules, reproducibility, fold handling."""

import pytest
import torch

from lmac_brain.data.mixing import mix_weighted
from lmac_brain.evaluation.evalsets import CONDITIONS, esc50_evaluation_sets


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
def test_the_four_sets_decode_each_clip_once(tiny_esc50, noise_folder, monkeypatch):
    import lmac_brain.evaluation.evalsets as evalsets

    sets = esc50_evaluation_sets(str(tiny_esc50), 16000, str(noise_folder), str(noise_folder))
    fresh = {cond: [sets[cond][i] for i in range(len(sets[cond]))] for cond in CONDITIONS}
    decoded = []
    real = evalsets.load_audio
    monkeypatch.setattr(evalsets, "load_audio", lambda path, *a, **k: decoded.append(path) or real(path, *a, **k))
    sets = esc50_evaluation_sets(str(tiny_esc50), 16000, str(noise_folder), str(noise_folder))
    for _ in range(2):  # two passes, as two methods
        for cond in CONDITIONS:
            for i in range(len(sets[cond])):
                item_id, mix, clean = sets[cond][i]
                assert item_id == fresh[cond][i][0] and torch.equal(mix, fresh[cond][i][1])
                clean.zero_()  # a caller changing its copy changes nothing for the next one
    clips = {path for _, path in sets["in_domain"].clips}
    assert sorted(p for p in decoded if p in clips) == sorted(clips)  # each clean clip decoded once


@pytest.mark.parametrize("tiny_esc50", ["flac"], indirect=True)
def test_mixture_contaminants_come_from_other_folds(tiny_esc50, noise_folder):
    sets = esc50_evaluation_sets(str(tiny_esc50), 16000, str(noise_folder), str(noise_folder), test_fold=5)
    assert sets["mixtures"].contaminants and all("/5-" not in p for p in sets["mixtures"].contaminants)
    with pytest.raises(ValueError, match="fold 9 has no clips"):
        esc50_evaluation_sets(str(tiny_esc50), 16000, str(noise_folder), str(noise_folder), test_fold=9)


def test_mix_weighted_follows_the_paper_rule():
    torch.manual_seed(0)
    s, n = torch.randn(1000), torch.randn(1000)
    for w_s, w_n in CONDITIONS.values():
        mix = mix_weighted(s, n, w_s, w_n)
        expected = w_s * s / s.norm() + w_n * n / n.norm()
        assert torch.allclose(mix, expected / expected.abs().max(), atol=1e-6)
    # 0.8 / 0.2 is about +12 dB, 1 / 0.5 about +6 dB
    assert 20 * torch.log10(torch.tensor(0.8 / 0.2)).item() == pytest.approx(12.04, abs=0.01)


def test_max_clips_takes_a_class_balanced_subset(tmp_path, noise_folder):
    # file names sorted group the clips by class (as ESC-50's freesound ids do): a plain prefix would
    # give one class only
    (tmp_path / "meta").mkdir()
    lines = ["filename,fold,target,category"]
    for target in (3, 1, 2):
        for k in range(3):
            lines.append(f"5-{target}000{k}-A-{target}.wav,5,{target},c{target}")
    lines.append("1-99999-A-1.wav,1,1,c1")  # a mixture contaminant from another fold
    (tmp_path / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    sets = esc50_evaluation_sets(str(tmp_path), 16000, str(noise_folder), str(noise_folder), max_clips=4)
    ids = [clip_id for clip_id, _ in sets["in_domain"].clips]
    assert sorted(int(i.rsplit("-", 1)[1]) for i in ids) == [1, 1, 2, 3]
    assert ids == sorted(ids) and "5-10000-A-1" in ids and "5-10001-A-1" in ids


def test_contamination_is_pinned(tmp_path):
    """Every condition's mixture, bit for bit the rule written out here (the contaminant file and crop, or the
    white noise, drawn from a crc32-seeded generator of ``seed:clip:k``; ``w_s s/||s|| + w_n n/||n||``; peak
    normalisation), and a few of its samples as the sets gave them before the mixing rules moved to
    :mod:`lmac_brain.data.mixing`."""
    import zlib

    import numpy as np
    import soundfile as sf

    from lmac_brain.data.audio import load_audio
    from lmac_brain.evaluation.evalsets import EvaluationSet

    rng = np.random.default_rng(3)
    clip = str(tmp_path / "5-1-A-0.wav")
    sf.write(clip, 0.5 * np.sin(np.arange(8000) * 0.05) * rng.uniform(0.2, 1.0, 8000), 16000)
    noises = [str(tmp_path / "short.wav"), str(tmp_path / "long.wav")]  # one tiled, one cropped
    sf.write(noises[0], 0.1 * rng.standard_normal(3000), 16000)
    sf.write(noises[1], 0.3 * rng.standard_normal(12000), 16000)
    pinned = {  # condition -> per k: (first three samples, sum)
        "in_domain": [([0.063643, 0.054635, 0.418764], -6.575794), ([-0.155264, -0.052672, 0.159339], 11.600903)],
        "mixtures": [([0.028648, 0.036453, 0.239783], 5.939181), ([-0.071112, -0.012595, 0.12283], 13.964811)],
        "speech": [([0.028648, 0.036453, 0.239783], 5.939181), ([-0.071112, -0.012595, 0.12283], 13.964811)],
        "white_noise": [([0.251932, 0.068529, 0.084958], -12.464168), ([0.19294, -0.135464, 0.187979], 13.072941)],
    }
    for condition, (w_s, w_n) in CONDITIONS.items():
        white = condition == "white_noise"
        ds = EvaluationSet([("5-1-A-0", clip)], condition, 16000, None if white else noises, n_per_clip=2, seed=1234)
        for k in range(2):
            item_id, mix, clean = ds[k]
            gen = torch.Generator().manual_seed(zlib.crc32(f"1234:5-1-A-0:{k}".encode("utf-8")))
            if white:
                n = torch.randn(8000, generator=gen)
            else:
                source = load_audio(noises[int(torch.randint(2, (1,), generator=gen))], 16000, normalize=False)
                starts = source.numel() - 8000 + 1 if source.numel() >= 8000 else source.numel()
                offset = int(torch.randint(starts, (1,), generator=gen))
                n = source.repeat(-(-(offset + 8000) // source.numel()))[offset : offset + 8000]
            tiny = torch.finfo(clean.dtype).tiny
            expected = w_s * clean / clean.norm().clamp(min=tiny) + w_n * n / n.norm().clamp(min=tiny)
            assert item_id == f"5-1-A-0_{condition}{k}"
            assert torch.equal(mix, expected / expected.abs().amax(dim=-1, keepdim=True))
            head, total = pinned[condition][k]
            assert mix[:3].tolist() == pytest.approx(head, abs=1e-6) and float(mix.sum()) == pytest.approx(
                total, abs=1e-4
            )
