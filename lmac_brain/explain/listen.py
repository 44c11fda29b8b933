"""Listenable explanations: masked spectrogram -> audio, written as the wav files a user listens to.

The interpretation of a mask ``M`` is ``ISTFT(expm1(M (.) log1p|X|) * e^{i angle X})`` (``(.)`` is the
mask application of the chosen domain) with the phase of the explained input, at exactly the input
length. Files are written atomically (temporary file in the same folder, then rename), so an
interrupted run never leaves a half-written wav. The figure of an explanation is
:func:`lmac_brain.explain.figure.plot_interpretation`.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import soundfile as sf
import torch

from lmac_brain.atomic import atomic_path
from lmac_brain.models.frontend import Frontend


def listenable(
    frontend: Frontend,
    logmag: torch.Tensor,
    phase: torch.Tensor,
    mask: torch.Tensor,
    length: int,
    domain: str = "log1p",
) -> torch.Tensor:
    """Waveforms ``[B, length]`` of what the mask lets through.

    Pass ``1 - mask`` to hear what it removes (the masked-out audio).

    Example
    -------
    >>> fe = Frontend()
    >>> wav = torch.randn(1, 8000)
    >>> logmag, phase = fe.log_magnitude_phase(wav)
    >>> out = listenable(fe, logmag, phase, torch.ones_like(logmag), 8000)
    >>> print(out.shape, bool(torch.allclose(out, wav, atol=1e-3)))
    torch.Size([1, 8000]) True
    """
    return frontend.invert(frontend.apply_mask(logmag, mask, domain), phase, length)


def write_wav(path: str, wav: torch.Tensor, sample_rate: int) -> str:
    """Write a mono waveform ``[N]`` as 16-bit PCM wav, atomically; values are clipped to ``[-1, 1]``.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "x.wav")
    >>> _ = write_wav(path, torch.zeros(160), 16000)
    >>> print(sf.info(path).frames, sf.info(path).channels)
    160 1
    """
    if wav.dim() != 1:
        raise ValueError(f"write_wav expects one mono waveform [N], got {tuple(wav.shape)}.")
    with atomic_path(path) as tmp:
        sf.write(tmp, wav.detach().cpu().clamp(-1, 1).numpy(), sample_rate, subtype="PCM_16", format="WAV")
    return path
