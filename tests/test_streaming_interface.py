"""stream_interpretation: a file or a waveform explained as a stream, as interpret_file / interpret_batch explain it."""

import numpy as np
import pytest
import soundfile as sf
import torch

from lmac_brain.interface.streaming import stream_interpretation


def _joined(streamed):
    chunks = list(streamed.chunks)
    return {k: torch.cat([getattr(c, k) for c in chunks]) for k in ("input", "mask", "interpretation", "masked_out")}, [
        w for c in chunks for w in c.windows
    ]


@pytest.mark.parametrize("target", [None, "rain"])
def test_a_file_streamed_equals_the_file_explained_whole(tiny_interpreter, tmp_path, target):
    rng = np.random.default_rng(0)
    t = np.arange(int(44100 * 3.7)) / 44100
    data = np.stack([0.2 * np.sin(2 * np.pi * 330 * t), 0.1 * rng.standard_normal(t.shape[0])], 1)
    path = str(tmp_path / "long.flac")
    sf.write(path, data.astype(np.float32), 44100)
    whole = tiny_interpreter.interpret_file(path, window_s=1.0, target=target)
    streamed = stream_interpretation(tiny_interpreter, path, window_s=1.0, target=target)
    assert streamed.n_samples == whole.input.shape[1]
    joined, windows = _joined(streamed)
    assert torch.allclose(joined["input"], whole.input[0], atol=1e-5)
    assert torch.allclose(joined["mask"], whole.mask[0], atol=1e-5)
    assert torch.allclose(joined["interpretation"], whole.interpretation[0], atol=1e-4)
    assert torch.allclose(joined["masked_out"], whole.masked_out[0], atol=1e-4)
    names = tiny_interpreter.class_names
    assert [names[w.target] for w in windows] == (
        [s.label for s in whole.segments[0]] if target is None else [target] * len(windows)
    )
    assert [w.start / 16000 for w in windows] == [s.start_s for s in whole.segments[0]]


def test_an_unknown_target_or_a_batch_is_refused(tiny_interpreter):
    with pytest.raises(ValueError, match="Unknown target class 'cat'"):
        stream_interpretation(tiny_interpreter, torch.zeros(16000), target="cat")
    with pytest.raises(ValueError, match="one waveform"):
        stream_interpretation(tiny_interpreter, torch.zeros(2, 16000))
