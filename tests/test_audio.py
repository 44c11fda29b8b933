"""Tests of lmac_brain.data.audio: container formats, normalisation, missing files.

Bit depths, channel counts, sample rates, lengths, silence, clipping, NaN/Inf and broken files are
covered by the bad-input matrix in tests/test_bad_inputs.py.
"""

import numpy as np
import pytest
import soundfile as sf
import torch

from lmac_brain.data.audio import AudioLoadError, load_audio, peak_normalize


def _tone(rate, seconds=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return 0.5 * np.sin(2 * np.pi * 440 * t)


@pytest.mark.parametrize(
    "ext,subtype",
    [(".wav", "PCM_16"), (".flac", "PCM_16"), (".ogg", "VORBIS")],
)
def test_container_formats(tmp_path, ext, subtype):
    path = tmp_path / f"x{ext}"
    sf.write(str(path), _tone(16000), 16000, subtype=subtype)
    wav = load_audio(path, 16000)
    assert wav.dtype == torch.float32 and wav.shape == (8000,)
    assert abs(float(wav.abs().max()) - 1.0) < 1e-6


def test_peak_normalize_uses_absolute_peak():
    # The reference divides by the signed max; a mostly-negative clip would blow up or flip.
    x = torch.tensor([[0.1, -0.8, 0.2]])
    assert torch.allclose(peak_normalize(x), x / 0.8)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(AudioLoadError, match="file not found"):
        load_audio(tmp_path / "nope.wav", 16000)
