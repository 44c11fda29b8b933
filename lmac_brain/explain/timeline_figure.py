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
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MultipleLocator

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
    duration = overview.logmag.shape[0] * overview.frames_per_column * hop_length / sample_rate
    duration = max(duration, max((s.end_s for s in segments), default=0.0))
    nyquist = sample_rate / 2
    rows, ticks = log_frequency_rows(overview.logmag.shape[1], nyquist)
    vmax = float(overview.logmag.max()) or 1.0
    for ax, values, name, limits, cmap in (
        (axes[1], overview.logmag, "input log1p|X|", (0.0, vmax), "magma"),
        (axes[2], overview.mask, "mask (explains each window's class)", (0.0, 1.0), "viridis"),
    ):
        ax.imshow(  # an image on a log-frequency grid: a few MB to draw, where a mesh of every bin costs 100+
            rows(values).T.numpy(),
            aspect="auto",
            origin="lower",
            extent=(0.0, duration, 0.0, 1.0),
            interpolation="nearest",
            vmin=limits[0],
            vmax=limits[1],
            cmap=cmap,
        )
        ax.set_yticks([y for y, _ in ticks], [label for _, label in ticks])
        ax.set_title(name)
        ax.set_ylabel("frequency (Hz)")
    hours = duration >= 3600
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800) if duration / s <= 10), 3600)
    axes[2].xaxis.set_major_locator(MultipleLocator(step))
    axes[2].xaxis.set_major_formatter(FuncFormatter(lambda x, _: clock(x, hours)))
    axes[2].set_xlabel("time (h:mm:ss)" if hours else "time (m:ss)")
    track.set_xlim(0, duration)
    fig.suptitle(title)
    return save_figure(fig, path, dpi=80)


def log_frequency_rows(n_freqs: int, nyquist: float, n_rows: int = 256, f_min: float = 30.0):
    """Resampling of ``n_freqs`` linear STFT bins (0 to ``nyquist``) onto ``n_rows`` rows evenly spaced in
    log frequency from ``f_min``: each row the mean of the bins in its band (the nearest bin where the band is
    narrower than a bin).

    Returns ``(rows, ticks)``: ``rows`` maps ``[T, n_freqs]`` to ``[T, n_rows]``; ``ticks`` are
    ``(position in [0, 1], label)`` at 50, 100, 200, 500, 1k, ... Hz within the range.

    Example
    -------
    >>> rows, ticks = log_frequency_rows(513, 8000.0, n_rows=8)
    >>> x = torch.arange(513.0).expand(2, 513)  # each bin holds its own index
    >>> [round(v) for v in rows(x)[0].tolist()]  # low rows: single bins; high rows: means of wide bands
    [2, 6, 12, 23, 46, 94, 190, 383]
    >>> [label for _, label in ticks]
    ['50', '100', '200', '500', '1k', '2k', '5k']
    """
    bin_hz = nyquist / (n_freqs - 1)
    ratio = nyquist / f_min
    edges = torch.tensor([f_min * ratio ** (i / n_rows) for i in range(n_rows + 1)], dtype=torch.float64)
    lo = (edges[:-1] / bin_hz).round().long().clamp(0, n_freqs - 1)
    hi = torch.maximum((edges[1:] / bin_hz).round().long().clamp(0, n_freqs - 1), lo + 1)

    def rows(values: torch.Tensor) -> torch.Tensor:
        cumulative = torch.nn.functional.pad(values.double().cumsum(1), (1, 0))
        return ((cumulative[:, hi] - cumulative[:, lo]) / (hi - lo)).float()

    marks = [m * 10**k for k in range(1, 6) for m in (1, 2, 5)]
    ticks = [
        (math.log(f / f_min) / math.log(ratio), f"{f // 1000}k" if f >= 1000 else str(f))
        for f in marks
        if f_min <= f <= nyquist
    ]
    return rows, ticks


def clock(seconds: float, hours: bool = False) -> str:
    """``m:ss``, or ``h:mm:ss`` with ``hours`` or from an hour on.

    Example
    -------
    >>> clock(75.0), clock(75.0, hours=True), clock(3725.0)
    ('1:15', '0:01:15', '1:02:05')
    """
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if hours or s >= 3600 else f"{s // 60}:{s % 60:02d}"
