"""Explaining a recording of any length as a stream: windows explained as they are read, outputs given out
as soon as they are final, in memory bounded by a few windows.

The arithmetic is that of :func:`~lmac_brain.explain.longform.explain_long` and
:func:`~lmac_brain.explain.longform.long_spectrogram_and_audio` (windows of ``window`` samples with hop
``window / 2``, window masks overlap-added in the frame domain with triangular weights, the STFT and ISTFT
chunk by chunk with cross-faded edges), reordered so that nothing of the input's length is ever held:
:func:`stream_explain` reads one chunk at a time through a callable, explains its window, and as soon as no
later window can change a stretch of frames and samples, yields a :class:`StreamChunk` with that stretch
(the input, masked-in and masked-out audio, ``log1p|X|`` and the mask) and the windows explained since the
previous chunk. Joined, the chunks equal the whole-input computation up to float rounding.

Each window's mask explains the class the explainer chose for it (its own decision, or a fixed target). With
``per_class=True`` the stream also gives, for every class some window explained, the mask built from that
class's windows alone (the other windows count as zero mask) and its audio: per class, what the classifier
listened to where it decided that class.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Tuple

import torch

from lmac_brain.explain.longform import chunk_spans, crossfade_weights, triangular_weights

ExplainWindows = Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
"""``[W, window]`` waveforms -> (masks ``[W, T_w, F]``, probabilities ``[W, C]``, explained classes ``[W]``)."""


@dataclass
class WindowResult:
    """One explained window: samples ``[start, end)``, the classifier's probabilities ``[C]`` on it and the class
    its mask explains."""

    start: int
    end: int
    probs: torch.Tensor
    target: int


@dataclass
class StreamChunk:
    """A final stretch of a streamed explanation: samples ``[start, start + n)`` and frames
    ``[frame_start, frame_start + t)`` of the whole input.

    Attributes
    ----------
    start, frame_start : int
        First sample and first STFT frame of the stretch.
    input, interpretation, masked_out : torch.Tensor
        ``[n]``: the input as read, what the mask lets through, what it removes.
    logmag, mask : torch.Tensor
        ``[t, F]``: ``log1p|X|`` and the overlap-added mask.
    windows : list of WindowResult
        The windows explained since the previous chunk, in order.
    class_audio : dict
        With ``per_class``: class index -> ``[n]`` audio of the mask of that class's windows, for the classes
        whose windows reach this stretch or the one before (a class left out is silent here).
    class_mask : dict
        With ``per_class``: class index -> ``[t, F]`` that class's mask, for the same classes: its windows' masks
        overlap-added with the weights of every window (so the classes' masks add up to ``mask``), zero where
        none of its windows reaches.
    """

    start: int
    frame_start: int
    input: torch.Tensor
    interpretation: torch.Tensor
    masked_out: torch.Tensor
    logmag: torch.Tensor
    mask: torch.Tensor
    windows: List[WindowResult] = field(default_factory=list)
    class_audio: Dict[int, torch.Tensor] = field(default_factory=dict)
    class_mask: Dict[int, torch.Tensor] = field(default_factory=dict)


class _Buffer:
    """A stretch ``[base, base + length)`` of a longer tensor (first axis), extended with zeros on demand and
    dropped from the front once given out.

    The stretch lives at the front of one of two stores of the same capacity: dropping the front copies the
    rest into the other store, and the capacity only grows (doubling), so a long stream re-uses the same two
    allocations instead of asking the allocator for a new, slightly different size at every chunk (which
    fragments the heap and lets the process's memory creep with the input's length).
    """

    def __init__(self, tail: Tuple[int, ...] = (), dtype=torch.float64, base: int = 0):
        self.base, self.length = base, 0
        self.stores = [torch.zeros((0, *tail), dtype=dtype)] * 2

    @property
    def data(self) -> torch.Tensor:
        """The stretch held, ``[length, *tail]``."""
        return self.stores[0][: self.length]

    def view(self, a: int, b: int) -> torch.Tensor:
        need = b - self.base
        if need > self.stores[0].shape[0]:
            capacity = max(need, 2 * self.stores[0].shape[0])
            grown = [self.stores[0].new_empty((capacity, *self.stores[0].shape[1:])) for _ in range(2)]
            grown[0][: self.length].copy_(self.data)
            self.stores = grown
        if need > self.length:
            self.stores[0][self.length : need].zero_()
            self.length = need
        return self.stores[0][a - self.base : b - self.base]

    def take(self, upto: int) -> torch.Tensor:
        """``[base, upto)``, removed from the buffer."""
        out = self.view(self.base, upto).clone()
        n, rest = upto - self.base, self.length - (upto - self.base)
        self.stores[1][:rest].copy_(self.stores[0][n : self.length])
        self.stores.reverse()
        self.base, self.length = upto, rest
        return out


def stream_explain(
    read: Callable[[int, int], torch.Tensor],
    n_samples: int,
    explain_windows: ExplainWindows,
    frontend,
    window: int,
    domain: str = "log1p",
    batch_size: int = 4,
    per_class: bool = False,
) -> Iterator[StreamChunk]:
    """Explain an input of ``n_samples`` samples read through ``read(a, b)`` (samples ``[a, b)``), in order.

    Arguments
    ---------
    read : callable
        ``(a, b) -> [b - a]`` samples of the input; called once per chunk, in increasing order.
    n_samples : int
        The input's length.
    explain_windows : callable
        See :data:`ExplainWindows`; called with up to ``batch_size`` windows at a time.
    frontend : Frontend
        The explainer's front end (STFT, mask application, ISTFT).
    window : int
        Window length in samples, a multiple of the STFT hop; an input up to this long is one window.
    domain : str
        Mask domain of the explainer (``frontend.apply_mask``).
    batch_size : int
        Windows explained at once.
    per_class : bool
        Also give each explained class's own audio (:class:`StreamChunk` ``class_audio``).

    Yields
    ------
    StreamChunk
        Consecutive final stretches covering the input.

    Example
    -------
    >>> from lmac_brain.models.frontend import Frontend
    >>> from lmac_brain.explain.longform import explain_long, long_spectrogram_and_audio
    >>> fe, wav = Frontend(), torch.randn(60000)
    >>> def explain(w):  # a mask that follows each window's loudness; class 0 or 1 by the window's mean
    ...     lm, _ = fe.log_magnitude_phase(w)
    ...     probs = torch.stack([(w.mean(1) > 0).float(), (w.mean(1) <= 0).float()], 1)
    ...     return torch.sigmoid(lm - 1), probs, probs.argmax(1)
    >>> chunks = list(stream_explain(lambda a, b: wav[a:b], 60000, explain, fe, window=186 * 64))
    >>> joined = {k: torch.cat([getattr(c, k) for c in chunks]) for k in ("interpretation", "mask", "logmag")}
    >>> whole = explain_long(lambda w: explain(w)[:2], wav, 186 * 64, 186)
    >>> logmag, audio_in, _ = long_spectrogram_and_audio(fe, wav, whole["mask"], 186 * 64)
    >>> print(len(chunks) > 2, bool(torch.allclose(joined["mask"], whole["mask"], atol=1e-5)),
    ...       bool(torch.allclose(joined["interpretation"], audio_in, atol=1e-4)),
    ...       bool(torch.allclose(joined["logmag"], logmag, atol=1e-4)))
    True True True True
    """
    hop, n_fft = frontend.hop_length, frontend.n_fft
    if window % hop:
        raise ValueError(f"window ({window}) must be a multiple of the STFT hop ({hop}).")
    spans = chunk_spans(n_samples, window, hop) if n_samples > window else [(0, n_samples)]
    n_frames = n_samples // hop + 1
    margin = -(-n_fft // hop)  # frames whose analysis window may reach past a chunk edge
    mask_acc, weight = _Buffer((frontend.n_freqs,)), _Buffer((1,))
    class_acc: Dict[int, _Buffer] = {}
    samples = [_Buffer() for _ in range(3)]  # masked-in, masked-out, cross-fade weight
    class_samples: Dict[int, _Buffer] = {}
    inputs, logmags = _Buffer(dtype=torch.float32), _Buffer((frontend.n_freqs,), torch.float32)
    read_spans: Dict[int, torch.Tensor] = {}
    pending: List[WindowResult] = []
    explained = done = 0  # spans explained / spans turned into audio
    sample_out = frame_out = 0  # given out up to here
    while done < len(spans):
        batch = spans[explained : explained + batch_size]
        if batch:
            for a, b in batch:
                read_spans[a] = _read(read, a, b)
            wavs = torch.stack([read_spans[a][: min(window, b - a)] for a, _ in batch])
            masks, probs, targets = (x.detach().cpu() for x in explain_windows(wavs))
            weights = triangular_weights(masks.shape[1]).to(torch.float64).unsqueeze(1)
            for (a, _), m, p, c in zip(batch, masks, probs, targets):
                f = a // hop
                mask_acc.view(f, f + m.shape[0]).add_(weights * m.double())
                weight.view(f, f + m.shape[0]).add_(weights)
                if per_class:  # a class's buffers start where the stream is (not at the input's start)
                    if int(c) not in class_acc:
                        class_acc[int(c)] = _Buffer((frontend.n_freqs,), base=frame_out)
                        class_samples[int(c)] = _Buffer(base=sample_out)
                    class_acc[int(c)].view(f, f + m.shape[0]).add_(weights * m.double())
                pending.append(WindowResult(a, a + wavs.shape[1], p.detach().cpu(), int(c)))
            explained += len(batch)
        final_frame = spans[explained][0] // hop if explained < len(spans) else n_frames
        while done < explained and (done == len(spans) - 1 or spans[done][1] // hop < final_frame):
            a, b = spans[done]
            wav = read_spans.pop(a)
            lm, phase = frontend.log_magnitude_phase(wav.unsqueeze(0))
            f0, t = a // hop, lm.shape[1]
            lo, hi = (0 if a == 0 else margin), (t if b == n_samples else t - margin)
            logmags.view(f0 + lo, f0 + hi).copy_(lm[0, lo:hi])
            inputs.view(a, b).copy_(wav)
            norm = weight.view(f0, f0 + t).clamp(min=1e-12)
            m = (mask_acc.view(f0, f0 + t) / norm).to(lm.dtype).unsqueeze(0)
            ramp = crossfade_weights(b - a, n_fft, a == 0, b == n_samples)
            for buf, keep in zip(samples, (m, 1 - m)):
                buf.view(a, b).add_(ramp * frontend.invert(frontend.apply_mask(lm, keep, domain), phase, b - a)[0])
            samples[2].view(a, b).add_(ramp)
            for c, acc in class_acc.items():
                mc = (acc.view(f0, f0 + t) / norm).to(lm.dtype).unsqueeze(0)
                part = class_samples[c].view(a, b)
                if bool(mc.any()):  # silence where none of the class's windows reaches
                    part.add_(ramp * frontend.invert(frontend.apply_mask(lm, mc, domain), phase, b - a)[0])
            done += 1
            upto = spans[done][0] if done < len(spans) else n_samples
            upto_frame = upto // hop if done < len(spans) else n_frames
            fade = samples[2].take(upto).clamp(min=1e-12)
            chunk = StreamChunk(
                start=sample_out,
                frame_start=frame_out,
                input=inputs.take(upto),
                interpretation=(samples[0].take(upto) / fade).float(),
                masked_out=(samples[1].take(upto) / fade).float(),
                logmag=logmags.take(upto_frame),
                mask=(mask_acc.take(upto_frame) / weight.view(frame_out, upto_frame).clamp(min=1e-12)).float(),
                windows=[w for w in pending if w.start < upto],
            )
            norm = weight.view(frame_out, upto_frame).clamp(min=1e-12)
            for c in list(class_acc):
                chunk.class_audio[c] = (class_samples[c].take(upto) / fade).float()
                chunk.class_mask[c] = (class_acc[c].take(upto_frame) / norm).float()
                if not (class_acc[c].data.any() or class_samples[c].data.any()):  # nothing of it pending: its
                    del class_acc[c], class_samples[c]  # buffers go (memory stays that of the classes in play)
            weight.take(upto_frame)
            pending = [w for w in pending if w.start >= upto]
            sample_out, frame_out = upto, upto_frame
            yield chunk


def _read(read: Callable[[int, int], torch.Tensor], a: int, b: int) -> torch.Tensor:
    wav = read(a, b)
    if wav.dim() != 1 or wav.shape[0] != b - a:
        raise ValueError(f"read({a}, {b}) must return {b - a} samples [N]; got {tuple(wav.shape)}.")
    return wav.float()
