"""The figure of one explanation: input spectrogram, mask, masked-in spectrogram (and class probabilities).

Spectrograms are drawn with ``librosa.display.specshow`` on a logarithmic frequency axis in Hz (most
of the energy of environmental sounds sits in the lowest quarter of a linear 0-8 kHz axis) against
time in seconds. The data are the STFT bins the mask acts on (``F = n_fft / 2 + 1``), not a mel
projection of them, so what is drawn is exactly what the classifier's input keeps.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from lmac_brain.atomic import save_figure

#: The panels, left to right, and what each shows (the README repeats this).
PANELS = (
    ("input log1p|X|", "the input's log-magnitude STFT, as the explained classifier hears it"),
    ("mask", "the L-MAC mask M in [0, 1] over the same bins (1: kept)"),
    ("masked-in log1p|X|", "what the mask keeps: the spectrogram of the interpretation audio"),
)


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
    Written atomically; returns ``path``.

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
    import librosa.display
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    n_fft = 2 * (logmag.shape[-1] - 1)
    data = (logmag, mask, masked_logmag)
    n = len(PANELS) + (probs is not None)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.6))
    # A fixed layout: matplotlib's constrained layout measures every tick label of the log axes and
    # costs about 0.3 s a figure (bench/figure_time.py).
    fig.subplots_adjust(left=0.25 / n, right=1 - 0.25 / n, bottom=0.14, top=0.84, wspace=0.55)
    vmax = float(logmag.max()) or 1.0
    for ax, (name, _), values in zip(axes, PANELS, data):
        limits = (0.0, 1.0) if name == "mask" else (0.0, vmax)
        image = librosa.display.specshow(
            values.detach().cpu().numpy().T,
            sr=sample_rate,
            hop_length=hop_length,
            n_fft=n_fft,
            x_axis="s",
            y_axis="log",
            ax=ax,
            vmin=limits[0],
            vmax=limits[1],
            cmap="magma" if name != "mask" else "viridis",
        )
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))  # readable at this panel width
        ax.set_title(name)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
        fig.colorbar(image, ax=ax)
    if probs is not None:
        top = torch.topk(probs.detach().cpu(), k=min(5, probs.numel()))
        names = [class_names[i] if class_names else str(i) for i in top.indices.tolist()]
        ax = axes[-1]
        ax.barh(np.arange(len(names))[::-1], top.values.numpy())
        ax.set_yticks(np.arange(len(names))[::-1], names)
        ax.set_xlim(0, 1)
        ax.set_title("class probabilities")
    fig.suptitle(title)
    return save_figure(fig, path, dpi=80)
