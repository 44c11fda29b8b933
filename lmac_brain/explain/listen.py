"""Listenable explanations: masked spectrogram -> audio, and the files a user listens to and looks at.

The interpretation of a mask ``M`` is ``ISTFT(expm1(M (.) log1p|X|) * e^{i angle X})`` (``(.)`` is the
mask application of the chosen domain) with the phase of the explained input, at exactly the input
length. Files are written atomically (temporary file in the same folder, then rename), so an
interrupted run never leaves a half-written wav or PNG.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import soundfile as sf
import torch

from lmac_brain.atomic import atomic_path
from lmac_brain.models.frontend import Frontend


def listenable(
    frontend: Frontend, logmag: torch.Tensor, phase: torch.Tensor, mask: torch.Tensor, length: int, domain: str = "log1p"
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


def plot_interpretation(
    path: str,
    logmag: torch.Tensor,
    mask: torch.Tensor,
    masked_logmag: torch.Tensor,
    sample_rate: int,
    hop_length: int,
    title: str = "",
    class_names: Optional[Sequence[str]] = None,
    probs: Optional[torch.Tensor] = None,
) -> str:
    """PNG with the input spectrogram, the mask and the masked spectrogram of one item (``[T, F]``).

    With ``class_names`` and ``probs`` (``[C]``), a fourth panel shows the top-5 class probabilities.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "x.png")
    >>> t = torch.rand(50, 513)
    >>> _ = plot_interpretation(path, t, t, t, 16000, 186, title="demo")
    >>> import os
    >>> print(os.path.getsize(path) > 1000)
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("input log1p|X|", logmag), ("mask", mask), ("masked-in log1p|X|", masked_logmag)]
    n = len(panels) + (probs is not None)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), constrained_layout=True)
    duration = logmag.shape[0] * hop_length / sample_rate
    extent = [0, duration, 0, sample_rate / 2000]
    vmax = float(logmag.max()) or 1.0
    for ax, (name, data) in zip(axes, panels):
        limits = (0.0, 1.0) if name == "mask" else (0.0, vmax)
        im = ax.imshow(
            data.detach().cpu().numpy().T, origin="lower", aspect="auto", extent=extent, vmin=limits[0], vmax=limits[1]
        )
        ax.set_title(name)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (kHz)")
        fig.colorbar(im, ax=ax)
    if probs is not None:
        top = torch.topk(probs.detach().cpu(), k=min(5, probs.numel()))
        names = [class_names[i] if class_names else str(i) for i in top.indices.tolist()]
        ax = axes[-1]
        ax.barh(np.arange(len(names))[::-1], top.values.numpy())
        ax.set_yticks(np.arange(len(names))[::-1], names)
        ax.set_xlim(0, 1)
        ax.set_title("class probabilities")
    fig.suptitle(title)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=80, format="png")
    finally:
        plt.close(fig)
    return path
