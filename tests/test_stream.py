"""The streamed explanation of a long input (lmac_brain.explain.stream) against the whole-input computation."""

import torch

from lmac_brain.explain.longform import explain_long, long_spectrogram_and_audio
from lmac_brain.explain.stream import stream_explain
from lmac_brain.models.frontend import Frontend

FE = Frontend()
HOP = FE.hop_length
WINDOW = HOP * 86  # 1 s windows: many windows on a short input


def _explainer(classes_of):
    """A deterministic explainer: masks follow the window's loudness; the class of a window is
    ``classes_of(window)``; one-hot probabilities."""

    def explain(wavs):
        logmag, _ = FE.log_magnitude_phase(wavs)
        targets = torch.tensor([classes_of(w) for w in wavs])
        probs = torch.nn.functional.one_hot(targets, 3).float()
        return torch.sigmoid(logmag - logmag.mean(dim=(1, 2), keepdim=True)), probs, targets

    return explain


def _tones(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 16000
    return 0.3 * torch.sin(2 * torch.pi * 440 * t) * (torch.sin(2 * torch.pi * 0.25 * t) > 0) + 0.05 * torch.randn(
        n, generator=g
    )


def test_chunks_join_to_the_whole_input_computation():
    n = 16000 * 7 + 123  # not a multiple of anything
    wav = _tones(n)
    explain = _explainer(lambda w: int(w.abs().mean() > 0.1))
    reads = []

    def read(a, b):
        reads.append((a, b))
        return wav[a:b]

    chunks = list(stream_explain(read, n, explain, FE, WINDOW, batch_size=3))
    assert [c.start for c in chunks] == [0] + [c.start + c.input.shape[0] for c in chunks[:-1]]
    assert sum(c.input.shape[0] for c in chunks) == n and sum(c.mask.shape[0] for c in chunks) == n // HOP + 1
    assert reads == sorted(reads) and len(reads) == len({a for a, _ in reads})  # each chunk read once, in order
    whole = explain_long(lambda w: explain(w)[:2], wav, WINDOW, HOP)
    logmag, audio_in, audio_out = long_spectrogram_and_audio(FE, wav, whole["mask"], WINDOW)
    joined = {k: torch.cat([getattr(c, k) for c in chunks]) for k in ("input", "interpretation", "masked_out")}
    assert torch.equal(joined["input"], wav)
    assert torch.allclose(joined["interpretation"], audio_in, atol=1e-5)
    assert torch.allclose(joined["masked_out"], audio_out, atol=1e-5)
    assert torch.allclose(torch.cat([c.mask for c in chunks]), whole["mask"], atol=1e-6)
    assert torch.allclose(torch.cat([c.logmag for c in chunks]), logmag, atol=1e-5)
    windows = [w for c in chunks for w in c.windows]
    assert [w.start for w in windows] == whole["starts"].tolist()
    assert torch.equal(torch.stack([w.probs for w in windows]), whole["window_probs"])


def test_an_input_within_one_window_is_one_chunk():
    wav = _tones(WINDOW - 500)
    explain = _explainer(lambda w: 2)
    (chunk,) = stream_explain(lambda a, b: wav[a:b], wav.shape[0], explain, FE, WINDOW)
    logmag, phase = FE.log_magnitude_phase(wav.unsqueeze(0))
    mask = explain(wav.unsqueeze(0))[0]
    whole = FE.invert(FE.apply_mask(logmag, mask), phase, wav.shape[0])[0]
    assert torch.allclose(chunk.interpretation, whole, atol=1e-5) and torch.allclose(chunk.mask, mask[0])
    assert [w.target for w in chunk.windows] == [2]


def test_per_class_audio_is_silent_where_the_class_was_not_decided():
    n = 16000 * 8
    wav = _tones(n)
    # class 0 where a window starts in the first half of the input, class 1 after

    def half(w):
        return 0 if _start_of(w, wav) < n // 2 else 1

    chunks = list(stream_explain(lambda a, b: wav[a:b], n, _explainer(half), FE, WINDOW, per_class=True))
    # a class not in play in a stretch is left out of it: silence there
    audio = {c: torch.cat([ch.class_audio.get(c, torch.zeros(ch.input.shape[0])) for ch in chunks]) for c in (0, 1)}
    windows = [w for ch in chunks for w in ch.windows]
    last_0 = max(w.end for w in windows if w.target == 0)
    first_1 = min(w.start for w in windows if w.target == 1)
    assert float(audio[0][last_0 + FE.n_fft :].abs().max()) == 0.0 and float(audio[0][:first_1].abs().max()) > 0.01
    assert float(audio[1][: first_1 - FE.n_fft].abs().max()) == 0.0 and float(audio[1][last_0:].abs().max()) > 0.01
    # the classes' masks add up to the mask; a class is in play only where its windows reach
    assert all(torch.allclose(sum(ch.class_mask.values()), ch.mask, atol=1e-6) for ch in chunks)
    assert [sorted(ch.class_mask) for ch in chunks][0] == [0] and [sorted(ch.class_mask) for ch in chunks][-1] == [1]
    assert [0, 1] in [sorted(ch.class_mask) for ch in chunks]  # both where they meet
    # where only one class's windows reach, its audio is the interpretation itself
    interpretation = torch.cat([ch.interpretation for ch in chunks])
    assert torch.allclose(audio[0][: first_1 - FE.n_fft], interpretation[: first_1 - FE.n_fft], atol=1e-5)
    assert torch.allclose(audio[1][last_0 + FE.n_fft :], interpretation[last_0 + FE.n_fft :], atol=1e-5)


def _start_of(w, wav):
    """Where the window ``w`` lies in ``wav`` (the test's inputs have no repeated windows)."""
    n = w.shape[0]
    for a in range(0, wav.shape[0] - n + 1, HOP):
        if torch.equal(wav[a : a + n], w):
            return a
    raise AssertionError("window not found")
