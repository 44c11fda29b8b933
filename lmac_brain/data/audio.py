"""Audio file input: read any file soundfile can decode, mix to mono, resample, peak-normalise.

Every entry point of the project (recipes, evaluation, the hub interface, the CLI) reads audio
through :func:`load_audio`, so that a clip is turned into the same tensor everywhere. The input
normalisation a classifier was trained with (:data:`INPUT_NORMALIZATIONS`, applied by
:func:`normalize_input`) is part of an exported interpreter (its ``input_normalization``); the
interpreter applies it to waveforms and files alike (:mod:`lmac_brain.interface.interpreter`).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging
import os
import struct
from typing import Optional, Tuple

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as taF

from lmac_brain.data.files import PathLike

logger = logging.getLogger(__name__)

#: Input normalisations a classifier can be trained with: ``"peak"`` (:func:`peak_normalize`, what the
#: recipes' data pipelines do) or ``"none"`` (waveforms as given).
INPUT_NORMALIZATIONS = ("peak", "none")


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
        If the file is missing, empty, not decodable, holds no samples, or holds NaN/Inf samples
        (those are rejected, not replaced: a clip with invalid samples is a broken file).

    Notes
    -----
    A wav file cut short (its header announces more audio than the file holds, e.g. an interrupted
    copy or download) is loaded up to the cut, and a warning naming the file is logged.

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
    check_audio_file(path)
    try:
        data, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioLoadError(
            f"{path}: not a readable audio file ({err}). Supported are the formats libsndfile "
            "decodes (wav, flac, ogg/vorbis, ...); convert the file or remove it."
        ) from err
    shortfall = wav_truncation(path)
    if data.shape[0] == 0:
        cut = f" (truncated: its header announces {shortfall[0]} bytes of audio, none are present)" if shortfall else ""
        raise AudioLoadError(f"{path}: the file holds no samples{cut}. Re-export or remove it.")
    if shortfall is not None:
        logger.warning(
            "%s: the file is truncated (its header announces %d bytes of audio, only %d are present); "
            "loaded the %.3f s present. Re-copy or re-export it to use the whole clip.",
            path,
            shortfall[0],
            shortfall[1],
            data.shape[0] / file_rate,
        )
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


def check_audio_file(path: str) -> None:
    """Raise :class:`AudioLoadError` if ``path`` is not a file or is empty (before any decoding).

    Example
    -------
    >>> check_audio_file("no/such.wav")
    Traceback (most recent call last):
    ...
    lmac_brain.data.audio.AudioLoadError: no/such.wav: file not found. Check the path (or the manifest that names it).
    """
    if not os.path.isfile(path):
        raise AudioLoadError(f"{path}: file not found. Check the path (or the manifest that names it).")
    if os.path.getsize(path) == 0:
        raise AudioLoadError(f"{path}: the file is empty (0 bytes). Re-export or remove it.")


def wav_truncation(path: PathLike) -> Optional[Tuple[int, int]]:
    """Detect a RIFF/WAVE file whose ``data`` chunk is cut short.

    Only the chunk headers are read. Files that are not little-endian RIFF/WAVE, and streaming
    writers' placeholder sizes (0 and 0xFFFFFFFF), are never reported.

    Arguments
    ---------
    path : str or os.PathLike
        Any file.

    Returns
    -------
    tuple of int or None
        ``(announced, present)`` bytes of the ``data`` chunk if fewer bytes are present than its
        header announces, else ``None``.

    Example
    -------
    >>> import soundfile as sf, numpy as np
    >>> path = str(getfixture("tmpdir") / "cut.wav")
    >>> sf.write(path, np.zeros(1000), 16000, subtype="PCM_16")
    >>> print(wav_truncation(path))
    None
    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(44 + 500)
    >>> print(wav_truncation(path))
    (2000, 500)
    """
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                present = size - offset - 8
                if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > present:
                    return chunk_size, present
                return None
            offset += 8 + chunk_size + (chunk_size & 1)
    return None


#: Peaks at or below this are silence, which :func:`peak_normalize` leaves unscaled.
PEAK_EPS = 1e-8


def peak_normalize(wav: torch.Tensor, eps: float = PEAK_EPS) -> torch.Tensor:
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


def normalize_input(wav: torch.Tensor, method: str) -> torch.Tensor:
    """Apply the input normalisation ``method`` (one of :data:`INPUT_NORMALIZATIONS`) per row.

    Arguments
    ---------
    wav : torch.Tensor
        ``[N]`` or ``[B, N]``.
    method : str
        ``"peak"``: :func:`peak_normalize`; ``"none"``: ``wav`` unchanged.

    Returns
    -------
    torch.Tensor
        Same shape as ``wav``.

    Raises
    ------
    ValueError
        For an unknown ``method``.

    Example
    -------
    >>> normalize_input(torch.tensor([0.1, -0.5]), "peak")
    tensor([ 0.2000, -1.0000])
    >>> normalize_input(torch.tensor([0.1, -0.5]), "none")
    tensor([ 0.1000, -0.5000])
    >>> normalize_input(torch.tensor([0.1]), "rms")
    Traceback (most recent call last):
    ...
    ValueError: Unknown input normalization 'rms': use one of peak, none.
    """
    if method == "peak":
        return peak_normalize(wav)
    if method == "none":
        return wav
    raise ValueError(f"Unknown input normalization {method!r}: use one of {', '.join(INPUT_NORMALIZATIONS)}.")
