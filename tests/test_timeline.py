"""The timeline of a long recording: segments from window decisions, and what ``lmac explain`` writes for it."""

import json

import numpy as np
import soundfile as sf
import torch

from lmac_brain.explain.stream import stream_explain
from lmac_brain.explain.timeline import merge_windows
from lmac_brain.interface.cli import explain_files
from lmac_brain.models.frontend import Frontend

FE = Frontend()


def _alternating_tones(seconds_each, n_blocks, rate=16000):
    """Blocks of 440 Hz and 2 kHz in turn (with a little noise); returns the waveform and the block edges."""
    rng = np.random.default_rng(0)
    n = int(seconds_each * rate)
    t = np.arange(n) / rate
    blocks = [np.sin(2 * np.pi * (440 if i % 2 == 0 else 2000) * t) for i in range(n_blocks)]
    wav = 0.3 * np.concatenate(blocks) + 0.01 * rng.standard_normal(n * n_blocks)
    return torch.from_numpy(wav.astype(np.float32)), [i * seconds_each for i in range(n_blocks + 1)]


def test_segments_follow_two_alternating_tones():
    wav, edges = _alternating_tones(3.0, 5)  # low, high, low, high, low; 15 s
    window = FE.hop_length * 86  # about 1 s

    def by_pitch(wavs):  # class 0: more energy below 1 kHz
        logmag, _ = FE.log_magnitude_phase(wavs)
        low = logmag[..., :64].expm1().sum(dim=(1, 2)) > logmag[..., 64:].expm1().sum(dim=(1, 2))
        targets = (~low).long()
        return torch.ones_like(logmag), torch.nn.functional.one_hot(targets, 2).float(), targets

    chunks = list(stream_explain(lambda a, b: wav[a:b], wav.shape[0], by_pitch, FE, window))
    windows = [w for c in chunks for w in c.windows]
    segments = merge_windows(
        [(w.start, w.end) for w in windows], [str(w.target) for w in windows], [1.0] * len(windows), wav.shape[0], 16000
    )
    assert [s.label for s in segments] == ["0", "1", "0", "1", "0"]
    assert segments[0].start_s == 0 and segments[-1].end_s == wav.shape[0] / 16000
    assert all(a.end_s == b.start_s for a, b in zip(segments, segments[1:]))  # they tile the input
    for seg, start in zip(segments[1:], edges[1:-1]):  # each change within half a window of the tone change
        assert abs(seg.start_s - start) <= window / 16000 / 2 + 1e-9, (seg.start_s, start)


def test_lmac_explain_writes_a_timeline_for_a_long_file(tiny_interpreter, tmp_path):
    wav, _ = _alternating_tones(4.0, 6)  # 24 s: windows of 10 s
    path = tmp_path / "long.wav"
    sf.write(str(path), wav.numpy(), 16000, subtype="FLOAT")
    out = tmp_path / "out"
    assert explain_files(tiny_interpreter, [str(path)], str(out)) == 0
    record = json.loads((out / "long.json").read_text(encoding="utf-8"))
    assert record["timeline"] and record["target"] == "each window's decision"
    segments, windows = record["segments"], record["windows"]
    assert segments[0]["start_s"] == 0 and segments[-1]["end_s"] == 24.0 and len(windows) == 4
    assert all(a["end_s"] == b["start_s"] and a["label"] != b["label"] for a, b in zip(segments, segments[1:]))
    assert sorted(k for k in record["files"] if k.startswith("class:")) == sorted(
        f"class:{label}" for label in {w["label"] for w in windows}
    )
    whole = tiny_interpreter.interpret_file(str(path))  # the whole-file path, same windows
    for key in ("input", "interpretation", "masked_out"):
        audio, rate = sf.read(str(out / record["files"][key]), dtype="float32")
        assert rate == 16000 and audio.shape[0] == wav.shape[0]
        expected = getattr(whole, key)[0].clamp(-1, 1).numpy()
        assert np.abs(audio - expected).max() < 2e-4, key  # 16-bit files
    for key in record["files"]:
        assert (out / record["files"][key]).stat().st_size > 0
        if key.startswith("class:"):  # each class's audio spans the file (silent where it was not decided)
            assert sf.info(str(out / record["files"][key])).frames == wav.shape[0]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("tmp_")) == []


def test_a_60_s_file_streamed_for_one_target_equals_the_whole_file_output(tiny_interpreter, tmp_path):
    wav, _ = _alternating_tones(6.0, 10)  # 60 s
    path = tmp_path / "minute.flac"
    sf.write(str(path), wav.numpy(), 16000, subtype="PCM_24")
    out = tmp_path / "out"
    assert explain_files(tiny_interpreter, [str(path)], str(out), target="rain") == 0
    record = json.loads((out / "minute_why_rain.json").read_text(encoding="utf-8"))
    assert record["target"] == "rain" and not any(k.startswith("class:") for k in record["files"])
    whole = tiny_interpreter.interpret_file(str(path), target="rain")
    for key in ("input", "interpretation", "masked_out"):
        audio, _ = sf.read(str(out / record["files"][key]), dtype="float32")
        assert np.abs(audio - getattr(whole, key)[0].clamp(-1, 1).numpy()).max() < 2e-4, key


def test_a_failing_timeline_leaves_no_file(tiny_interpreter, tmp_path, monkeypatch):
    import pytest

    from lmac_brain.interface import timeline_outputs

    wav, _ = _alternating_tones(4.0, 6)
    path = tmp_path / "long.wav"
    sf.write(str(path), wav.numpy(), 16000, subtype="FLOAT")
    out = tmp_path / "out"
    out.mkdir()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(timeline_outputs, "plot_timeline", broken)  # after the audio files are in place
    with pytest.raises(OSError, match="disk full"):
        timeline_outputs.write_timeline(str(out), "long", str(path), tiny_interpreter)
    assert list(out.iterdir()) == []
