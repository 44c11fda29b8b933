"""EventMixer: a share of the training clips mixed over another clip, never the clip itself."""

import numpy as np
import pytest
import soundfile as sf
import torch

from lmac_brain.data.event_mix import EventMixer
from lmac_brain.data.noise import NoiseMixer


@pytest.fixture
def clips(tmp_path):
    rng = np.random.default_rng(0)
    noise = tmp_path / "noise"
    noise.mkdir()
    sf.write(str(noise / "hum.wav"), 0.01 * rng.standard_normal(8000), 16000)
    files = []
    for i, freq in enumerate((0.1, 0.2, 0.3)):
        path = tmp_path / f"clip{i}.wav"
        sf.write(str(path), 0.5 * np.sin(np.arange(8000) * freq), 16000)
        files.append(str(path))
    return files, str(noise)


def test_share_decides_between_an_event_and_the_noise(clips):
    files, noise = clips
    never = EventMixer(files, NoiseMixer(noise, seed=5), share=0.0, seed=1)
    plain = NoiseMixer(noise, seed=5)
    clip = torch.sin(torch.arange(8000) * 0.05)
    for _ in range(3):  # share 0: exactly the noise mixer's output, call after call
        assert torch.equal(never(clip, "x"), plain(clip, "x"))
    always = EventMixer(files, None, share=1.0, snr_db=(6.0, 18.0), seed=1)
    snrs = []
    for _ in range(20):
        mixture, clean = always.mix(clip, "x")
        snrs.append(float(10 * torch.log10(clean.pow(2).sum() / (mixture - clean).pow(2).sum())))
        assert abs(float(mixture.abs().max()) - 1.0) < 1e-5
    assert min(snrs) >= 6.0 - 1e-3 and max(snrs) <= 18.0 + 1e-3 and max(snrs) - min(snrs) > 3.0
    half = EventMixer(files, NoiseMixer(noise), share=0.5, seed=1)
    with_event = sum(float((half.mix(clip, "x")[0] - plain.mix(clip, "x")[0]).abs().max()) > 0.2 for _ in range(200))
    assert 60 < with_event < 140


def test_never_the_clip_itself(tmp_path):
    # clip "a" is a constant, "b" alternates in sign: any crop of "a" is parallel to "a", any crop of "b" orthogonal
    sf.write(str(tmp_path / "a.wav"), np.full(800, 0.5), 16000)
    sf.write(str(tmp_path / "b.wav"), 0.5 * (-1.0) ** np.arange(800), 16000)
    mixer = EventMixer([str(tmp_path / "a.wav"), str(tmp_path / "b.wav")], None, share=1.0, snr_db=0.0, seed=3)
    own = torch.full((800,), 0.5)
    for _ in range(30):  # the draw lands on "a" itself about half the time; it is always replaced by "b"
        mixture, clean = mixer.mix(own, "a")
        assert abs(float(torch.nn.functional.cosine_similarity(mixture - clean, clean, dim=0))) < 0.05


def test_bad_arguments_are_clear(clips):
    files, _ = clips
    with pytest.raises(ValueError, match="at least one audio file"):
        EventMixer([], None, share=0.5)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        EventMixer(files, None, share=1.5)
    with pytest.raises(ValueError, match="one id per file"):
        EventMixer(files, None, share=0.5, ids=["a"])


def test_resumed_generator_draws_the_same(clips, tmp_path):
    files, _ = clips
    a = EventMixer(files, None, share=1.0, seed=9)
    clip = torch.sin(torch.arange(8000) * 0.05)
    a(clip, "x")
    a.save_state(tmp_path / "state.pt")
    expected = a(clip, "x")
    b = EventMixer(files, None, share=1.0, seed=123)
    b.load_state(tmp_path / "state.pt", end_of_epoch=False)
    assert torch.equal(b(clip, "x"), expected)
