"""Tests of lmac_brain.data.noise: SNR mixing and the noise-folder mixer."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
import torch

from lmac_brain.data.mixing import mix_at_snr
from lmac_brain.data.noise import NoiseMixer


def measured_snr(clean: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    return 10 * torch.log10(clean.double().pow(2).sum(-1) / (mix - clean).double().pow(2).sum(-1))


@pytest.mark.parametrize("snr_db", [0.0, 5.0, -5.0])
def test_mix_at_snr(snr_db):
    gen = torch.Generator().manual_seed(0)
    clean = torch.sin(torch.arange(16000) * 0.03) * 0.3
    noise = 5.0 * torch.randn(16000, generator=gen)
    mix = mix_at_snr(clean, noise, snr_db)
    assert mix.shape == clean.shape and mix.dtype == clean.dtype
    assert abs(float(measured_snr(clean, mix)) - snr_db) < 0.1


def test_mix_at_snr_zero_db_is_the_paper_rule():
    gen = torch.Generator().manual_seed(1)
    clean, noise = torch.randn(3, 800, generator=gen), 0.01 * torch.randn(3, 800, generator=gen)
    mix = mix_at_snr(clean, noise, 0.0)
    paper = clean / clean.norm(dim=-1, keepdim=True) + noise / noise.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(mix / clean.norm(dim=-1, keepdim=True), paper, atol=1e-5, rtol=1e-5)


def test_mix_at_snr_per_row():
    gen = torch.Generator().manual_seed(2)
    clean, noise = torch.randn(3, 1000, generator=gen), torch.randn(3, 1000, generator=gen)
    snr = torch.tensor([-5.0, 0.0, 12.0])
    torch.testing.assert_close(measured_snr(clean, mix_at_snr(clean, noise, snr)), snr.double())
    with pytest.raises(ValueError, match="one SNR per row"):
        mix_at_snr(clean, noise, torch.tensor([0.0, 1.0]))


def test_mix_at_snr_silent_inputs_give_no_nan():
    clean = torch.randn(2, 100)
    clean[1] = 0.0
    noise = torch.randn(2, 100)
    mix = mix_at_snr(clean, noise, 0.0)
    assert torch.isfinite(mix).all() and torch.equal(mix[1], torch.zeros(100))
    mix = mix_at_snr(clean, torch.zeros(2, 100), 0.0)
    assert torch.equal(mix, clean)


def test_mix_at_snr_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        mix_at_snr(torch.ones(10), torch.ones(11), 0.0)
    with pytest.raises(ValueError, match="finite"):
        mix_at_snr(torch.ones(10), torch.ones(10), float("nan"))


def test_deterministic_mixer_is_reproducible(noise_folder):
    clip = torch.sin(torch.arange(8000) * 0.05)
    first = NoiseMixer(noise_folder, deterministic=True, seed=7)
    second = NoiseMixer(noise_folder, deterministic=True, seed=7)
    out_a = first(clip, "1-100010-A-0")
    first(clip, "another-id")  # calls in between do not matter
    assert torch.equal(out_a, second(clip, "1-100010-A-0"))
    assert torch.equal(out_a, first(clip, "1-100010-A-0"))
    assert not torch.equal(out_a, first(clip, "1-100011-A-14"))
    other_seed = NoiseMixer(noise_folder, deterministic=True, seed=8)
    assert not torch.equal(out_a, other_seed(clip, "1-100010-A-0"))


def test_deterministic_mixer_needs_item_id(noise_folder):
    with pytest.raises(ValueError, match="needs the clip's item_id"):
        NoiseMixer(noise_folder, deterministic=True)(torch.ones(100))


def test_random_mixer_advances_and_is_seeded(noise_folder):
    clip = torch.sin(torch.arange(4000) * 0.05)
    mixer_a, mixer_b = NoiseMixer(noise_folder, seed=3), NoiseMixer(noise_folder, seed=3)
    outs_a = [mixer_a(clip) for _ in range(3)]
    outs_b = [mixer_b(clip) for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(outs_a, outs_b))
    assert not torch.equal(outs_a[0], outs_a[1])


# The noise files have 4000 and 16000 samples: clips shorter, equal and longer (tiled).
@pytest.mark.parametrize("n_samples", [1, 1000, 4000, 16000, 40000])
def test_mixer_output_length_and_peak(noise_folder, n_samples):
    mixer = NoiseMixer(noise_folder, snr_db=(-5.0, 5.0), deterministic=True)
    clip = 0.1 * torch.sin(torch.arange(n_samples) * 0.05 + 0.3)
    for item in ("a", "b", "c"):
        out = mixer(clip, item)
        assert out.shape == clip.shape and out.dtype == torch.float32
        assert torch.isfinite(out).all()
        assert float(out.abs().max()) == pytest.approx(1.0)


def test_mixer_tiles_short_noise(tmp_path):
    sf.write(str(tmp_path / "short.wav"), np.random.default_rng(0).standard_normal(100), 16000)
    mixer = NoiseMixer(tmp_path, deterministic=True)
    clean = torch.zeros(1000)
    clean[0] = 1.0  # an impulse, so that out[1:] is the (scaled) noise crop alone
    out = mixer(clean, "x")
    assert out.shape == (1000,) and float(out.abs().max()) == pytest.approx(1.0)
    torch.testing.assert_close(out[1:900], out[101:1000])  # the 100-sample noise is tiled
    assert not torch.equal(out[1:900], out[2:901])


def test_mixer_lists_files_sorted_and_recursively(noise_folder):
    mixer = NoiseMixer(noise_folder)
    assert [os.path.relpath(p, noise_folder) for p in mixer.files] == ["sub/brown.flac", "white.wav"]
    assert [len(n) for n in mixer.noises] == [16000, 4000]  # the 22.05 kHz file is resampled


def test_mixer_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="noise folder not found"):
        NoiseMixer(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(ValueError, match="no noise files"):
        NoiseMixer(tmp_path)
    sf.write(str(tmp_path / "silence.wav"), np.zeros(100), 16000)
    with pytest.raises(ValueError, match="silent"):
        NoiseMixer(tmp_path)


@pytest.mark.parametrize("snr_db", [(5.0, 0.0), (0.0, float("inf")), float("nan"), (1.0, 2.0, 3.0)])
def test_mixer_bad_snr(noise_folder, snr_db):
    with pytest.raises(ValueError, match="snr_db"):
        NoiseMixer(noise_folder, snr_db=snr_db)


def test_mixer_bad_waveform(noise_folder):
    with pytest.raises(ValueError, match=r"one non-empty waveform \[N\]"):
        NoiseMixer(noise_folder)(torch.ones(2, 100))


class _Clips(torch.utils.data.Dataset):
    def __init__(self, mixer):
        self.mixer = mixer

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return self.mixer(torch.sin(torch.arange(2000) * 0.05))


def test_random_mixer_differs_across_dataloader_workers(noise_folder):
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(_Clips(NoiseMixer(noise_folder)), batch_size=1, num_workers=2)
    outs = [batch[0] for batch in loader]  # items 0, 2 come from worker 0; items 1, 3 from worker 1
    assert not torch.equal(outs[0], outs[1])


@pytest.mark.slow
def test_real_noise_folder(real_data):
    folder = real_data("noise")
    clip = torch.sin(torch.arange(5 * 16000) * 0.05)
    mixer = NoiseMixer(folder, deterministic=True)
    out = mixer(clip, "5-9032-A-0")
    assert out.shape == clip.shape and torch.isfinite(out).all()
    assert float(out.abs().max()) == pytest.approx(1.0)
    assert torch.equal(out, mixer(clip, "5-9032-A-0"))


def test_place_event_sets_the_snr_over_the_span():
    from lmac_brain.data.mixing import place_event

    gen = torch.Generator().manual_seed(0)
    event, background = torch.randn(300, generator=gen), torch.randn(1000, generator=gen)
    mixture, track = place_event(event, background, 200, 6.0)
    assert torch.equal(track[:200], torch.zeros(200)) and torch.equal(track[500:], torch.zeros(500))
    assert torch.allclose(mixture - track, background, atol=1e-6)
    assert float(measured_snr(track[200:500], mixture[200:500])) == pytest.approx(6.0, abs=1e-4)
    with pytest.raises(ValueError, match="does not fit"):
        place_event(event, background, 800, 0.0)
