"""Explaining recordings longer than a classifier window: half-overlapping windows, masks overlap-added.

CNN14 pools over the whole input, so "the decision on a 10-minute recording" is not what an
environmental-sound classifier trained on 5 s clips was made for, and the decoder's upsampling of a
10-minute input would need gigabytes. Inputs up to ``window`` samples are explained whole (exactly as
the recipe does). Longer inputs are cut into windows of ``window`` samples with hop ``window / 2``
(the last one aligned to the end); each window is explained on its own, and the window masks are
overlap-added in the frame domain with triangular weights (so seams fade), giving one ``[T, F]`` mask of
the whole input. The file-level class probabilities are the mean of the windows' probabilities, and
every window is reported as a :class:`Segment`. The spectrogram and the listenable audio of the whole
input are then rebuilt chunk by chunk (:func:`long_spectrogram_and_audio`). Memory grows linearly with
length and stays small: the mask, the spectrogram and the waveforms of the whole input, plus one batch
of windows.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import torch


@dataclass
class Segment:
    """One explained window of a long input.

    Attributes
    ----------
    start_s, end_s : float
        Window span in seconds.
    label : str
        The classifier's decision on the window.
    prob : float
        Its probability.
    """

    start_s: float
    end_s: float
    label: str
    prob: float


def window_starts(n_samples: int, window: int, hop: int, align: int) -> List[int]:
    """Start samples of half-overlapping windows covering ``n_samples``; all multiples of ``align``.

    The last window ends within ``align`` samples of the end (its start is rounded down to a multiple
    of ``align``, the STFT hop, so every window's frames fall on the frames of the whole input); a
    regular window starting less than ``hop / 2`` before it is left out (overlaps stay at least a
    quarter window).

    Example
    -------
    >>> window_starts(100, 40, 20, 5)
    [0, 20, 40, 60]
    >>> window_starts(103, 40, 20, 5)
    [0, 20, 40, 60]
    >>> window_starts(105, 40, 20, 5)
    [0, 20, 40, 65]
    >>> window_starts(30, 40, 20, 5)
    [0]
    """
    if window % align or hop % align:
        raise ValueError(f"window ({window}) and hop ({hop}) must be multiples of the STFT hop ({align}).")
    if n_samples <= window:
        return [0]
    last = (n_samples - window) // align * align
    starts = list(range(0, last, hop))
    if len(starts) > 1 and last - starts[-1] < hop // 2:  # a nearly repeated last window: drop it
        starts.pop()
    return starts + [last]


def triangular_weights(n_frames: int) -> torch.Tensor:
    """Overlap-add weights ``[n_frames]``: rising from the window's edges, never zero.

    Example
    -------
    >>> triangular_weights(5).tolist()
    [1.0, 2.0, 3.0, 2.0, 1.0]
    """
    t = torch.arange(n_frames, dtype=torch.float32)
    return torch.minimum(t + 1, n_frames - t)


def explain_long(
    explain_windows: Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]],
    wav: torch.Tensor,
    window: int,
    stft_hop: int,
    batch_size: int = 4,
) -> Dict[str, torch.Tensor]:
    """Mask of a long waveform ``[N]`` from masks of its windows.

    Arguments
    ---------
    explain_windows : callable
        ``[W, window]`` waveforms -> (masks ``[W, T_w, F]``, probabilities ``[W, C]``).
    wav : torch.Tensor
        ``[N]`` waveform, ``N > window``.
    window : int
        Window length in samples, a multiple of ``stft_hop``; hop ``window // 2``.
    stft_hop : int
        Hop of the front end's STFT.
    batch_size : int
        Windows explained at once (bounds memory).

    Returns
    -------
    dict
        ``mask`` ``[T, F]`` with ``T = N // stft_hop + 1``, ``probs`` ``[C]`` (mean over windows),
        ``window_probs`` ``[W, C]`` and ``starts`` ``[W]`` (samples).

    Example
    -------
    >>> def constant(w):  # mask 1 everywhere, class 0 certain
    ...     return torch.ones(w.shape[0], w.shape[1] // 10 + 1, 3), torch.tensor([[1.0, 0.0]]).expand(w.shape[0], 2)
    >>> out = explain_long(constant, torch.zeros(95), window=40, stft_hop=10)
    >>> print(out["mask"].shape, out["starts"].tolist(), out["probs"].tolist(), bool((out["mask"] == 1).all()))
    torch.Size([10, 3]) [0, 20, 40, 50] [1.0, 0.0] True
    """
    n = wav.shape[-1]
    hop = window // 2 // stft_hop * stft_hop
    starts = window_starts(n, window, hop, stft_hop)
    total = n // stft_hop + 1
    acc = weight = None
    window_probs = []
    for b in range(0, len(starts), batch_size):
        chunk = starts[b : b + batch_size]
        masks, probs = explain_windows(torch.stack([wav[s : s + window] for s in chunk]))
        window_probs.append(probs)
        if acc is None:
            acc = torch.zeros(total, masks.shape[-1], dtype=masks.dtype, device=masks.device)
            weight = torch.zeros(total, 1, dtype=masks.dtype, device=masks.device)
            w = triangular_weights(masks.shape[1]).to(masks).unsqueeze(1)
        for s, m in zip(chunk, masks):
            f = s // stft_hop
            acc[f : f + m.shape[0]] += w * m
            weight[f : f + m.shape[0]] += w
    window_probs = torch.cat(window_probs)
    return {
        "mask": acc / weight,
        "probs": window_probs.mean(dim=0),
        "window_probs": window_probs,
        "starts": torch.tensor(starts),
    }


def chunk_spans(n_samples: int, window: int, stft_hop: int) -> List[Tuple[int, int]]:
    """Sample spans ``[a, b)`` of the windows of :func:`window_starts`, the last one extended to the end.

    Example
    -------
    >>> chunk_spans(103, 40, 5)
    [(0, 40), (20, 60), (40, 80), (60, 103)]
    """
    hop = window // 2 // stft_hop * stft_hop
    starts = window_starts(n_samples, window, hop, stft_hop)
    ends = [min(s + window, n_samples) for s in starts[:-1]] + [n_samples]
    return list(zip(starts, ends))


def crossfade_weights(length: int, margin: int, open_left: bool, open_right: bool) -> torch.Tensor:
    """Cross-fade weights of one chunk's output samples: zero within ``margin`` of an interior edge (where the
    chunk's STFT differs from the whole input's), rising linearly; an open edge (the input's own) rises from 1.

    Example
    -------
    >>> crossfade_weights(6, 2, open_left=False, open_right=True).tolist()
    [0.0, 0.0, 1.0, 2.0, 2.0, 1.0]
    """
    n = torch.arange(length, dtype=torch.float64)
    left = n + 1 if open_left else (n - margin + 1).clamp(min=0)
    right = length - n if open_right else (length - margin - n).clamp(min=0)
    return torch.minimum(left, right)


def long_spectrogram_and_audio(frontend, wav: torch.Tensor, mask: torch.Tensor, window: int, domain: str = "log1p"):
    """``log1p|X|`` ``[T, F]`` and the masked-in / masked-out waveforms ``[N]`` of a long input, chunk by chunk.

    Equal (to float rounding) to ``frontend.log_magnitude_phase`` and
    :func:`~lmac_brain.explain.listen.listenable` on the whole input, but the STFT and ISTFT only ever hold one
    chunk: the input is cut into the spans of :func:`chunk_spans`; a frame is taken from a chunk where
    its whole analysis window lies inside the chunk (or at the input's own edges, which are zero-padded
    alike), and output samples are cross-faded with weights that are zero within ``n_fft`` samples of an
    interior chunk edge, where the chunk's STFT differs from the whole input's.

    Example
    -------
    >>> from lmac_brain.models.frontend import Frontend
    >>> from lmac_brain.explain.listen import listenable
    >>> fe = Frontend()
    >>> wav = torch.randn(40000)
    >>> logmag, phase = fe.log_magnitude_phase(wav.unsqueeze(0))
    >>> mask = torch.rand_like(logmag[0])
    >>> lm, audio_in, audio_out = long_spectrogram_and_audio(fe, wav, mask, window=186 * 64)
    >>> whole = listenable(fe, logmag, phase, mask.unsqueeze(0), 40000)[0]
    >>> print(bool((lm - logmag[0]).abs().max() < 1e-4), bool((audio_in - whole).abs().max() < 1e-4))
    True True
    """
    n = wav.shape[-1]
    hop, n_fft = frontend.hop_length, frontend.n_fft
    spans = chunk_spans(n, window, hop)
    logmag = torch.zeros_like(mask)
    outs = [torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)]
    weight = torch.zeros(n, dtype=torch.float64)
    margin_frames = -(-n_fft // hop)  # frames whose window may reach past a chunk edge
    for a, b in spans:
        f0 = a // hop
        lm, phase = frontend.log_magnitude_phase(wav[a:b].unsqueeze(0))
        t = lm.shape[1]
        lo = 0 if a == 0 else margin_frames
        hi = t if b == n else t - margin_frames
        logmag[f0 + lo : f0 + hi] = lm[0, lo:hi]
        m = mask[f0 : f0 + t].unsqueeze(0)
        w = crossfade_weights(b - a, n_fft, a == 0, b == n)
        for out, keep in zip(outs, (m, 1 - m)):
            audio = frontend.invert(frontend.apply_mask(lm, keep, domain), phase, b - a)[0]
            out[a:b] += w * audio.double()
        weight[a:b] += w
    weight = weight.clamp(min=1e-12)
    return logmag, (outs[0] / weight).to(wav.dtype), (outs[1] / weight).to(wav.dtype)
