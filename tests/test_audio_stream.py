"""AudioStream: any stretch of a file as the whole-file loader gives it, without loading the file."""

import numpy as np
import pytest
import soundfile as sf
import torch

from lmac_brain.data.audio import AudioLoadError, load_audio
from lmac_brain.data.audio_stream import AudioStream


def _write(path, rate, seconds=2.3, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    data = np.stack([0.4 * np.sin(2 * np.pi * (300 + 200 * c) * t) for c in range(channels)], 1)
    data += 0.05 * rng.standard_normal(data.shape)
    sf.write(str(path), data.astype(np.float32), rate, subtype="FLOAT")
    return path


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_every_stretch_equals_the_whole_file(tmp_path, rate):
    path = _write(tmp_path / f"x{rate}.wav", rate)
    stream, whole = AudioStream(path, 16000), load_audio(path, 16000, normalize=False)
    assert stream.n_samples == whole.shape[0]
    n = stream.n_samples
    rng = np.random.default_rng(1)
    spans = [(0, n), (0, 1), (n - 1, n), (0, 5000), (n - 7000, n)]
    spans += [tuple(sorted(rng.integers(0, n + 1, 2))) for _ in range(10)]
    for a, b in spans:
        assert torch.allclose(stream.read(int(a), int(b)), whole[a:b], atol=2e-6), (a, b)
    joined = torch.cat([wav for _, wav in stream.blocks(3001)])
    assert torch.allclose(joined, whole, atol=2e-6)
    assert stream.peak() == pytest.approx(float(whole.abs().max()), abs=2e-6)


def test_bad_files_are_named(tmp_path):
    with pytest.raises(AudioLoadError, match="missing.wav: file not found"):
        AudioStream(tmp_path / "missing.wav", 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioLoadError, match="empty.wav: the file is empty"):
        AudioStream(tmp_path / "empty.wav", 16000)
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(AudioLoadError, match="text.wav: not a readable audio file"):
        AudioStream(tmp_path / "text.wav", 16000)
    data = np.zeros(16000, dtype=np.float32)
    data[12000] = np.nan
    sf.write(str(tmp_path / "nan.wav"), data, 16000, subtype="FLOAT")
    stream = AudioStream(tmp_path / "nan.wav", 16000)
    assert stream.read(0, 8000).abs().max() == 0  # a stretch without the bad sample reads fine
    with pytest.raises(AudioLoadError, match=r"nan.wav: the file contains NaN or Inf samples \(between"):
        stream.peak()
    with pytest.raises(ValueError, match="outside the stream"):
        stream.read(0, 16001)
