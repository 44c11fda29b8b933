"""An interpreter's explanation of a recording of any length, as a stream of final stretches.

:func:`stream_interpretation` reads a file (:class:`~lmac_brain.data.audio_stream.AudioStream`) or a waveform
stretch by stretch, applies the interpreter's input normalisation (for ``"peak"``: the whole recording's
peak, found in a first pass over the file), and explains it window by window
(:func:`~lmac_brain.explain.stream.stream_explain`): each window for its own decision, or every window for
``target``. Its masks and audio equal those of :meth:`LMACInterpreter.interpret_batch` on the whole
recording up to float rounding; memory stays that of a few windows, whatever the length.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Tuple, Union

import torch

from lmac_brain.data.audio import PEAK_EPS, normalize_input
from lmac_brain.data.audio_stream import AudioStream
from lmac_brain.explain.refine import Refinement, targeted_masks
from lmac_brain.explain.stream import StreamChunk, stream_explain
from lmac_brain.explain.targets import ClassRef


@dataclass
class StreamedInput:
    """A recording being explained: its length and the stream of its explained stretches.

    Attributes
    ----------
    n_samples : int
        Length at the interpreter's ``sample_rate``.
    sample_rate : int
        The interpreter's sample rate.
    window : int
        Window length in samples (the whole recording is one window when it is no longer).
    chunks : iterator of StreamChunk
        Consecutive final stretches (:class:`~lmac_brain.explain.stream.StreamChunk`), input normalised.
    refined : bool
        Whether some window's mask was refined (:mod:`~lmac_brain.explain.refine`), so far.
    """

    n_samples: int
    sample_rate: int
    window: int
    chunks: Iterator[StreamChunk]
    refined: bool = False


def stream_interpretation(
    interp,
    source: Union[str, os.PathLike, torch.Tensor],
    target: Optional[ClassRef] = None,
    window_s: float = 10.0,
    per_class: bool = False,
    refinement: Optional[Refinement] = None,
    refine: Optional[bool] = None,
    batch_size: int = 4,
) -> StreamedInput:
    """Explain ``source`` (an audio file or a waveform ``[N]`` at ``sample_rate``) as a stream.

    Arguments
    ---------
    interp : LMACInterpreter
        The interpreter.
    source : str, os.PathLike or torch.Tensor
        The recording.
    target : int or str, optional
        Explain this class in every window; default: each window's own decision.
    window_s : float
        Window length in seconds, as :meth:`LMACInterpreter.interpret_batch`'s.
    per_class : bool
        Also give each explained class's audio (:class:`~lmac_brain.explain.stream.StreamChunk` ``class_audio``).
    refinement, refine
        As :meth:`LMACInterpreter.interpret_batch`'s.
    batch_size : int
        Windows explained at once.

    Returns
    -------
    StreamedInput
        Nothing is explained before its ``chunks`` are iterated (a file's peak is read at once).

    Example
    -------
    >>> interp = getfixture("tiny_interpreter")
    >>> wav = torch.randn(16000 * 3)
    >>> streamed = stream_interpretation(interp, wav, window_s=1.0)
    >>> chunks = list(streamed.chunks)
    >>> whole = interp.interpret_batch(wav.unsqueeze(0), window_s=1.0)
    >>> print(bool(torch.allclose(torch.cat([c.mask for c in chunks]), whole.mask[0], atol=1e-5)),
    ...       bool(torch.allclose(torch.cat([c.interpretation for c in chunks]), whole.interpretation[0], atol=1e-4)))
    True True
    """
    lmac, rate = interp.mods.lmac, interp.hparams.sample_rate
    hop = lmac.frontend.hop_length
    window = max(int(window_s * rate) // hop * hop, hop)
    n_samples, read = recording_reader(interp, source)
    fixed = None if target is None else interp.class_index(target)
    refinement = refinement or Refinement()

    def explain(wavs: torch.Tensor):
        wavs = wavs.to(interp.device)
        out = targeted_masks(lmac, wavs, None if fixed is None else [fixed] * wavs.shape[0], refinement, refine)
        streamed.refined = streamed.refined or bool(out["refined"].any())
        return out["mask"], out["logits"].softmax(dim=-1), out["target"]

    chunks = stream_explain(
        read, n_samples, explain, lmac.frontend, window, lmac.mask_domain, batch_size=batch_size, per_class=per_class
    )
    streamed = StreamedInput(n_samples, rate, window, chunks)  # targeted_masks runs without gradients
    return streamed


def recording_reader(
    interp, source: Union[str, os.PathLike, torch.Tensor]
) -> Tuple[int, Callable[[int, int], torch.Tensor]]:
    """``(n_samples, read)``: the recording's length at ``sample_rate`` and ``read(a, b)``, its samples ``[a, b)``
    as the classifier hears them (the interpreter's input normalisation of the whole recording).

    Example
    -------
    >>> n, read = recording_reader(getfixture("tiny_interpreter"), torch.tensor([0.1, -0.5, 0.25]))
    >>> n, read(1, 3).tolist()
    (3, [-1.0, 0.5])
    """
    if isinstance(source, torch.Tensor):
        if source.dim() != 1:
            raise ValueError(f"stream_interpretation takes one waveform [N]; got {tuple(source.shape)}.")
        wav = normalize_input(source.float(), interp.input_normalization)
        return wav.shape[0], lambda a, b: wav[a:b]
    stream = AudioStream(source, interp.hparams.sample_rate)
    scale = 1.0
    if interp.input_normalization == "peak" and stream.peak() > PEAK_EPS:  # peak_normalize of the whole
        scale = 1.0 / stream.peak()
    return stream.n_samples, lambda a, b: stream.read(a, b) * scale
