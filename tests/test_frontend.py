"""Tests of lmac_brain.models.frontend: STFT/ISTFT round trip, exact lengths, mel shapes, mask domains."""

import pytest
import torch

from lmac_brain.models.frontend import Frontend


def snr_db(ref, est):
    return float(10 * torch.log10(ref.pow(2).sum() / (ref - est).pow(2).sum()))


@pytest.fixture(scope="module")
def fe():
    return Frontend()


@pytest.mark.parametrize("n_samples", [80000, 80001, 12345, 16001, 999])
def test_round_trip_reconstructs_with_exact_length(fe, n_samples):
    torch.manual_seed(0)
    wav = torch.randn(2, n_samples) * 0.3
    logmag, phase = fe.log_magnitude_phase(wav)
    rec = fe.invert(logmag, phase, length=n_samples)
    assert rec.shape == wav.shape
    assert snr_db(wav, rec) > 40


def test_paper_grid_for_five_seconds(fe):
    logmag, phase = fe.log_magnitude_phase(torch.randn(1, 80000))
    assert logmag.shape == phase.shape == (1, 431, 513)
    assert fe.n_frames(80000) == 431 and fe.n_freqs == 513
    assert fe.stft.win_length == 372 and fe.stft.hop_length == 186


@pytest.mark.parametrize("n_mels", [40, 80, 128])
def test_mel_projection_shapes(n_mels):
    fe = Frontend(n_mels=n_mels)
    feats = fe.wav_to_features(torch.randn(3, 16000))
    assert feats.shape == (3, fe.n_frames(16000), n_mels)
    assert torch.isfinite(feats).all() and (feats >= 0).all()


def test_features_match_mel_of_magnitude(fe):
    wav = torch.randn(1, 8000)
    spec = fe.stft(wav)
    magnitude = spec.pow(2).sum(-1).sqrt()
    expected = torch.log1p(fe.fbank(magnitude))
    assert torch.allclose(fe.wav_to_features(wav), expected, atol=1e-4)


def test_mask_domains(fe):
    logmag, _ = fe.log_magnitude_phase(torch.randn(1, 4000))
    ones, zeros = torch.ones_like(logmag), torch.zeros_like(logmag)
    for domain in ("log1p", "linear"):
        assert torch.allclose(fe.apply_mask(logmag, ones, domain), logmag, atol=1e-5)
        assert torch.equal(fe.apply_mask(logmag, zeros, domain), zeros)
    half = torch.full_like(logmag, 0.5)
    linear = fe.apply_mask(logmag, half, "linear").expm1()
    assert torch.allclose(linear, 0.5 * logmag.expm1(), atol=1e-4)
    with pytest.raises(ValueError, match="Unknown mask domain"):
        fe.apply_mask(logmag, half, "db")


def test_full_mask_gives_back_the_input_audio(fe):
    wav = torch.randn(1, 16000) * 0.2
    logmag, phase = fe.log_magnitude_phase(wav)
    listenable = fe.invert(fe.apply_mask(logmag, torch.ones_like(logmag)), phase, length=16000)
    assert snr_db(wav, listenable) > 40


def test_shape_errors_are_clear(fe):
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        fe.log_magnitude_phase(torch.randn(16000))
    with pytest.raises(ValueError, match="F=513"):
        fe.features(torch.rand(1, 10, 257))
    with pytest.raises(ValueError, match="does not match"):
        fe.apply_mask(torch.rand(1, 10, 513), torch.rand(1, 11, 513))
