"""Tests of lmac_brain.audio: formats, channels, rates, normalisation and clear errors."""

import numpy as np
import pytest
import soundfile as sf
import torch

from lmac_brain.audio import AudioLoadError, load_audio, peak_normalize


def _tone(rate, seconds=0.5, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * 440 * t)
    return np.stack([x * (c + 1) / channels for c in range(channels)], axis=1)


@pytest.mark.parametrize(
    "ext,subtype",
    [(".wav", "PCM_U8"), (".wav", "PCM_16"), (".wav", "PCM_24"), (".wav", "FLOAT"), (".flac", "PCM_16"), (".ogg", "VORBIS")],
)
def test_formats_and_bit_depths(tmp_path, ext, subtype):
    path = tmp_path / f"x{ext}"
    sf.write(str(path), _tone(16000), 16000, subtype=subtype)
    wav = load_audio(path, 16000)
    assert wav.dtype == torch.float32 and wav.shape == (8000,)
    assert abs(float(wav.abs().max()) - 1.0) < 1e-6


@pytest.mark.parametrize("channels", [2, 6])
def test_multichannel_is_averaged_to_mono(tmp_path, channels):
    path = tmp_path / "multi.wav"
    data = _tone(16000, channels=channels)
    sf.write(str(path), data, 16000, subtype="FLOAT")
    wav = load_audio(path, 16000, normalize=False)
    np.testing.assert_allclose(wav.numpy(), data.mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_keeps_duration_and_pitch(tmp_path, rate):
    path = tmp_path / "r.wav"
    sf.write(str(path), _tone(rate, seconds=1.0), rate, subtype="FLOAT")
    wav = load_audio(path, 16000)
    assert wav.shape == (16000,)
    peak_bin = int(np.argmax(np.abs(np.fft.rfft(wav.numpy()))))
    assert peak_bin == 440  # 1 Hz bins for a 1 s signal


def test_silence_is_not_amplified(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(1600), 16000)
    assert float(load_audio(path, 16000).abs().max()) == 0.0


def test_peak_normalize_uses_absolute_peak():
    # The reference divides by the signed max; a mostly-negative clip would blow up or flip.
    x = torch.tensor([[0.1, -0.8, 0.2]])
    assert torch.allclose(peak_normalize(x), x / 0.8)


@pytest.mark.parametrize(
    "content,expected",
    [(b"", "empty"), (b"this is not audio" * 10, "not a readable audio file")],
)
def test_bad_files_raise_clear_errors(tmp_path, content, expected):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioLoadError, match=expected) as info:
        load_audio(path, 16000)
    assert str(path) in str(info.value)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(AudioLoadError, match="file not found"):
        load_audio(tmp_path / "nope.wav", 16000)


def test_nan_samples_are_rejected(tmp_path):
    path = tmp_path / "nan.wav"
    data = np.zeros(1000, dtype=np.float32)
    data[10] = np.nan
    sf.write(str(path), data, 16000, subtype="FLOAT")
    with pytest.raises(AudioLoadError, match="NaN or Inf"):
        load_audio(path, 16000)
