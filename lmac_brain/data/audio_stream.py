"""A long audio file read in stretches: mono, at the model's sample rate, never whole in memory.

:class:`AudioStream` gives any stretch ``[a, b)`` of the file as :func:`~lmac_brain.data.audio.load_audio`
would give it after loading the whole file (channels averaged, resampled with the same band-limited sinc
interpolator), reading only that stretch and the few samples around it that the resampler's kernel
reaches; :meth:`AudioStream.peak` is the whole file's absolute peak, in one pass over it. So a one-hour
recording is explained (:mod:`lmac_brain.explain.stream`) with the memory of a few windows, and gets the
explanation the whole-file path would give it.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import math
import os
from typing import Iterator, Optional, Tuple

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as taF

from lmac_brain.data.audio import AudioLoadError, check_audio_file, wav_truncation
from lmac_brain.data.files import PathLike

LOWPASS_FILTER_WIDTH = 6
"""``torchaudio.functional.resample``'s default, which :func:`~lmac_brain.data.audio.load_audio` uses."""
ROLLOFF = 0.99


class AudioStream:
    """An audio file as a mono stream at ``sample_rate``.

    Arguments
    ---------
    path : str or os.PathLike
        Any file ``soundfile`` reads.
    sample_rate : int
        The stream's sample rate (the file is resampled stretch by stretch where it differs).

    Attributes
    ----------
    n_samples : int
        Length of the stream (what :func:`~lmac_brain.data.audio.load_audio` returns for the file).
    file_rate : int
        The file's own sample rate.
    truncated : tuple of int, optional
        For a wav file cut short: the bytes of audio its header announces and those present (the stream
        holds what is present).

    Raises
    ------
    AudioLoadError
        If the file is missing, empty, not decodable or holds no samples; :meth:`read` and :meth:`peak` raise
        it for NaN or Inf samples.

    Example
    -------
    >>> from lmac_brain.data.audio import load_audio
    >>> path = str(getfixture("tmpdir") / "two.wav")
    >>> t = np.arange(44100 * 3) / 44100
    >>> sf.write(path, np.stack([np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 97 * t)], 1), 44100)
    >>> stream, whole = AudioStream(path, 16000), load_audio(path, 16000, normalize=False)
    >>> print(stream.n_samples == whole.shape[0], bool(torch.allclose(stream.read(12345, 30000), whole[12345:30000],
    ...       atol=1e-6)), abs(stream.peak() - float(whole.abs().max())) < 1e-6)
    True True True
    """

    def __init__(self, path: PathLike, sample_rate: int):
        self.path = os.fspath(path)
        check_audio_file(self.path)
        try:
            info = sf.info(self.path)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
            raise AudioLoadError(
                f"{self.path}: not a readable audio file ({err}). Supported are the formats libsndfile "
                "decodes (wav, flac, ogg/vorbis, ...); convert the file or remove it."
            ) from err
        self.truncated = wav_truncation(self.path)
        self.file_rate, self.sample_rate, self.n_file = int(info.samplerate), int(sample_rate), int(info.frames)
        if self.n_file <= 0:
            raise AudioLoadError(f"{self.path}: the file holds no samples. Re-export or remove it.")
        gcd = math.gcd(self.file_rate, self.sample_rate)
        self._orig, self._new = self.file_rate // gcd, self.sample_rate // gcd
        self.n_samples = self.n_file if self._orig == self._new else math.ceil(self._new * self.n_file / self._orig)
        # input blocks of `_orig` samples give output blocks of `_new`; a block's output reaches `width` input
        # samples either side (torchaudio's kernel width), so `_context` whole blocks either side suffice
        width = math.ceil(LOWPASS_FILTER_WIDTH * self._orig / (min(self._orig, self._new) * ROLLOFF))
        self._context = -(-width // self._orig) + 1
        self._peak: Optional[float] = None

    def _file(self, a: int, b: int) -> torch.Tensor:
        """File samples ``[a, b)`` (clipped to the file), mixed to mono."""
        a, b = max(a, 0), min(b, self.n_file)
        with sf.SoundFile(self.path) as f:
            f.seek(a)
            data = f.read(b - a, dtype="float32", always_2d=True)
        if not np.isfinite(data).all():
            raise AudioLoadError(
                f"{self.path}: the file contains NaN or Inf samples (between {a / self.file_rate:.1f} s and "
                f"{b / self.file_rate:.1f} s). Repair the file (e.g. re-export it from the source) before using it."
            )
        return torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))

    def read(self, a: int, b: int) -> torch.Tensor:
        """Stream samples ``[a, b)``, ``0 <= a <= b <= n_samples``, float32 ``[b - a]``."""
        if not 0 <= a <= b <= self.n_samples:
            raise ValueError(f"read({a}, {b}) outside the stream's {self.n_samples} samples.")
        if self._orig == self._new:
            return self._file(a, b)
        k0, k1 = a // self._new, -(-b // self._new)  # the output blocks that hold [a, b)
        start = max(k0 - self._context, 0)  # from the file's start, the resampler pads with zeros as for the whole
        wav = self._file(start * self._orig, (k1 + self._context) * self._orig)
        out = taF.resample(wav, orig_freq=self._orig, new_freq=self._new)
        offset = start * self._new
        return out[a - offset : b - offset]

    def blocks(self, block: int) -> Iterator[Tuple[int, torch.Tensor]]:
        """``(start, samples)`` of consecutive stretches of ``block`` samples (the last one shorter)."""
        for a in range(0, self.n_samples, block):
            yield a, self.read(a, min(a + block, self.n_samples))

    def peak(self, block_s: float = 60.0) -> float:
        """The stream's absolute peak (one pass over the file, ``block_s`` seconds at a time; then cached)."""
        if self._peak is None:
            block = max(int(block_s * self.sample_rate), 1)
            self._peak = max(float(wav.abs().max()) for _, wav in self.blocks(block))
        return self._peak
