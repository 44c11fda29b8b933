"""The timeline of a long input: its windows' decisions merged into segments of one class each.

Windows overlap by half (:func:`~lmac_brain.explain.longform.window_starts`), so each window speaks for the
stretch nearer to its centre than to any other window's: from the middle of its overlap with the window
before to the middle of its overlap with the window after (the first from the input's start, the last to
its end). Neighbouring windows that decided the same class merge into one :class:`~lmac_brain.explain.longform.Segment`
over the union of their stretches, with the mean of their probabilities of that class; so the segments tile
the input without gaps or overlaps.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

from lmac_brain.explain.longform import Segment


def owned_spans(spans: Sequence[Tuple[int, int]], n_samples: int) -> List[Tuple[int, int]]:
    """The stretch ``[a, b)`` each window ``[start, end)`` of ``spans`` (in order) speaks for.

    Example
    -------
    >>> owned_spans([(0, 40), (20, 60), (40, 80), (65, 105)], 105)
    [(0, 30), (30, 50), (50, 72), (72, 105)]
    """
    cuts = [(nxt[0] + cur[1]) // 2 for cur, nxt in zip(spans, spans[1:])]
    return list(zip([0] + cuts, cuts + [n_samples]))


def merge_windows(
    spans: Sequence[Tuple[int, int]], labels: Sequence[str], probs: Sequence[float], n_samples: int, sample_rate: int
) -> List[Segment]:
    """Segments of neighbouring windows with the same decision.

    Arguments
    ---------
    spans : sequence of (int, int)
        The windows' sample spans, in order.
    labels : sequence of str
        Each window's decided class.
    probs : sequence of float
        Each window's probability of its decided class.
    n_samples : int
        The input's length.
    sample_rate : int
        To express the segments in seconds.

    Returns
    -------
    list of Segment
        In order, tiling ``[0, n_samples / sample_rate)``.

    Example
    -------
    >>> segs = merge_windows([(0, 40), (20, 60), (40, 80), (65, 105)], ["a", "a", "b", "a"],
    ...                      [0.5, 0.7, 0.9, 0.4], 105, 10)
    >>> [(s.start_s, s.end_s, s.label, round(s.prob, 2)) for s in segs]
    [(0.0, 5.0, 'a', 0.6), (5.0, 7.2, 'b', 0.9), (7.2, 10.5, 'a', 0.4)]
    """
    if not len(spans) == len(labels) == len(probs):
        raise ValueError(f"{len(spans)} windows, {len(labels)} labels and {len(probs)} probabilities: give one each.")
    segments: List[Segment] = []
    runs: List[List[float]] = []
    for (a, b), label, prob in zip(owned_spans(spans, n_samples), labels, probs):
        if segments and segments[-1].label == label:
            segments[-1].end_s = b / sample_rate
            runs[-1].append(float(prob))
        else:
            segments.append(Segment(a / sample_rate, b / sample_rate, label, float(prob)))
            runs.append([float(prob)])
    for segment, run in zip(segments, runs):
        segment.prob = sum(run) / len(run)
    return segments
