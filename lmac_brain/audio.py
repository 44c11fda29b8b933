"""Audio file input: read any file soundfile can decode, mix to mono, resample, peak-normalise.

Every entry point of the project (recipes, evaluation, the hub interface, the CLI) reads audio
through :func:`load_audio`, so that a clip is turned into the same tensor everywhere.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging
import os
from typing import Union

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as taF

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]


class AudioLoadError(ValueError):
    """Raised when an audio file cannot be turned into a usable waveform.

    The message always names the file, says what is wrong and what to do.
    """


def load_audio(path: PathLike, sample_rate: int, normalize: bool = True) -> torch.Tensor:
    """Read an audio file as a mono float32 waveform at ``sample_rate``.

    Any format, bit depth and channel count that ``soundfile`` reads (wav, flac, ogg, ...) is
    accepted. Channels are averaged to mono, the signal is resampled with a band-limited sinc
    interpolator (``torchaudio.functional.resample``) and, unless ``normalize=False``,
    peak-normalised by :func:`peak_normalize`.

    Arguments
    ---------
    path : str or os.PathLike
        The audio file.
    sample_rate : int
        Sample rate of the returned waveform, in Hz.
    normalize : bool
        Divide by the absolute peak (see :func:`peak_normalize`).

    Returns
    -------
    torch.Tensor
        Waveform ``[N]``, float32.

    Raises
    ------
    AudioLoadError
        If the file is missing, empty, not decodable, or holds NaN/Inf samples.

    Example
    -------
    >>> import soundfile as sf, numpy as np
    >>> path = getfixture("tmpdir") / "tone.wav"
    >>> t = np.arange(8000) / 8000
    >>> sf.write(str(path), np.stack([np.sin(2 * np.pi * 440 * t)] * 2, 1), 8000)
    >>> wav = load_audio(path, sample_rate=16000)
    >>> print(wav.shape, round(float(wav.abs().max()), 3))
    torch.Size([16000]) 1.0
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioLoadError(f"{path}: file not found. Check the path (or the manifest that names it).")
    if os.path.getsize(path) == 0:
        raise AudioLoadError(f"{path}: the file is empty (0 bytes). Re-export or remove it.")
    try:
        data, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioLoadError(
            f"{path}: not a readable audio file ({err}). Supported are the formats libsndfile "
            "decodes (wav, flac, ogg/vorbis, ...); convert the file or remove it."
        ) from err
    if data.shape[0] == 0:
        raise AudioLoadError(f"{path}: the file holds no samples. Re-export or remove it.")
    if not np.isfinite(data).all():
        raise AudioLoadError(
            f"{path}: the file contains NaN or Inf samples. Repair the file (e.g. re-export it "
            "from the source) before using it."
        )
    wav = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if file_rate != sample_rate:
        wav = taF.resample(wav, orig_freq=int(file_rate), new_freq=int(sample_rate))
    if normalize:
        wav = peak_normalize(wav)
    return wav


def peak_normalize(wav: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Divide each waveform by its absolute peak, leaving (near-)silent signals unchanged.

    The reference implementation divides by the *signed* maximum ``x.max()``, which amplifies clips
    whose positive peak is small and flips the sign of all-negative ones; we use ``|x|.max()``.

    Arguments
    ---------
    wav : torch.Tensor
        ``[N]`` or ``[B, N]``; normalisation is per row.
    eps : float
        Peaks at or below this are treated as silence and not scaled.

    Returns
    -------
    torch.Tensor
        Same shape as ``wav``, with peak 1 (or unchanged if silent).

    Example
    -------
    >>> peak_normalize(torch.tensor([[0.1, -0.5], [0.0, 0.0]]))
    tensor([[ 0.2000, -1.0000],
            [ 0.0000,  0.0000]])
    """
    peak = wav.abs().amax(dim=-1, keepdim=True)
    return wav / torch.where(peak > eps, peak, torch.ones_like(peak))
