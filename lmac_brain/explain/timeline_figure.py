"""The figure of a long recording's explanation: the decision track over the spectrogram and the mask.

A recording of minutes or hours has hundreds of thousands of STFT frames; :class:`Overview` averages them
into at most ``max_columns`` columns as the stretches of a stream arrive (so the figure costs the memory of
its columns, not of the recording), and :func:`plot_timeline` draws, on one time axis (``h:mm:ss``), the
segments of the decision track (one colour per class, the classes in the legend by the time they hold), the
input's log-magnitude and the mask.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from lmac_brain.atomic import save_figure
from lmac_brain.explain.longform import Segment


class Overview:
    """Column averages of a ``[T, F]`` spectrogram and mask, filled stretch by stretch.

    Arguments
    ---------
    n_frames : int
        ``T``, the recording's frames.
    n_freqs : int
        ``F``.
    max_columns : int
        At most this many columns: ``ceil(T / max_columns)`` frames each.

    Example
    -------
    >>> ov = Overview(10, 2, max_columns=4)  # 3 frames a column
    >>> ov.add(0, torch.arange(6.0).view(3, 2), torch.ones(3, 2))
    >>> ov.add(3, torch.arange(14.0).view(7, 2), torch.zeros(7, 2))
    >>> ov.frames_per_column, ov.logmag[:, 0].tolist(), ov.mask[:, 0].tolist()
    (3, [2.0, 2.0, 8.0, 12.0], [1.0, 0.0, 0.0, 0.0])
    """

    def __init__(self, n_frames: int, n_freqs: int, max_columns: int = 1500):
        self.frames_per_column = max(1, math.ceil(n_frames / max_columns))
        columns = math.ceil(n_frames / self.frames_per_column)
        self._sums = torch.zeros(2, columns, n_freqs)
        self._counts = torch.zeros(columns, 1)

    def add(self, frame_start: int, logmag: torch.Tensor, mask: torch.Tensor) -> None:
        """Add frames ``[frame_start, frame_start + t)`` (``logmag`` and ``mask`` ``[t, F]``)."""
        index = torch.arange(frame_start, frame_start + logmag.shape[0]) // self.frames_per_column
        self._sums[0].index_add_(0, index, logmag.float())
        self._sums[1].index_add_(0, index, mask.float())
        self._counts.index_add_(0, index, torch.ones(index.shape[0], 1))

    @property
    def logmag(self) -> torch.Tensor:
        """``[columns, F]`` mean log-magnitude."""
        return self._sums[0] / self._counts.clamp(min=1)

    @property
    def mask(self) -> torch.Tensor:
        """``[columns, F]`` mean mask."""
        return self._sums[1] / self._counts.clamp(min=1)


def plot_timeline(
    path: str,
    overview: Overview,
    segments: Sequence[Segment],
    sample_rate: int,
    hop_length: int,
    title: str = "",
) -> str:
    """PNG of a long recording's explanation: decision track, input spectrogram and mask on one time axis.

    Written atomically; returns ``path``.

    Example
    -------
    >>> ov = Overview(8000, 513)
    >>> ov.add(0, torch.rand(8000, 513), torch.rand(8000, 513))
    >>> segs = [Segment(0.0, 40.0, "dog", 0.9), Segment(40.0, 93.0, "rain", 0.7)]
    >>> path = plot_timeline(str(getfixture("tmpdir") / "t.png"), ov, segs, 16000, 186, "demo")
    >>> import os
    >>> print(os.path.getsize(path) > 1000)
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import librosa.display
    import matplotlib.pyplot as plt

    n_fft = 2 * (overview.logmag.shape[1] - 1)
    fig, axes = plt.subplots(
        3, 1, figsize=(14, 7), sharex=True, gridspec_kw={"height_ratios": [1, 3, 3]}, layout="constrained"
    )
    held = {}
    for seg in segments:
        held[seg.label] = held.get(seg.label, 0.0) + seg.end_s - seg.start_s
    order = sorted(held, key=held.get, reverse=True)
    colors = {label: plt.get_cmap("tab20")(i % 20) for i, label in enumerate(order)}
    track = axes[0]
    for seg in segments:
        track.axvspan(seg.start_s, seg.end_s, color=colors[seg.label], alpha=0.8, lw=0)
    edges = [x for seg in segments for x in (seg.start_s, seg.end_s)]
    track.plot(edges, [seg.prob for seg in segments for _ in range(2)], color="black", lw=1)
    track.set_ylim(0, 1)
    track.set_ylabel("p")
    track.set_title("decisions (segments of windows that decided the same class; line: mean probability)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[label]) for label in order[:12]]
    names = [f"{label} ({held[label] / 60:.1f} min)" for label in order[:12]]
    fig.legend(handles, names, loc="outside right upper", fontsize="small", frameon=False, title="time held")
    vmax = float(overview.logmag.max()) or 1.0
    for ax, values, name, limits, cmap in (
        (axes[1], overview.logmag, "input log1p|X|", (0.0, vmax), "magma"),
        (axes[2], overview.mask, "mask (explains each window's class)", (0.0, 1.0), "viridis"),
    ):
        librosa.display.specshow(
            values.numpy().T,
            sr=sample_rate,
            hop_length=hop_length * overview.frames_per_column,
            n_fft=n_fft,
            x_axis="time",
            y_axis="log",
            ax=ax,
            vmin=limits[0],
            vmax=limits[1],
            cmap=cmap,
        )
        ax.set_title(name)
        ax.set_ylabel("frequency (Hz)")
    duration = overview.logmag.shape[0] * overview.frames_per_column * hop_length / sample_rate
    track.set_xlim(0, max(duration, max((s.end_s for s in segments), default=0.0)))
    fig.suptitle(title)
    return save_figure(fig, path, dpi=80)
