"""Two evaluation runs on the same items, compared item by item: paired differences with a 95% t interval,
and the ratio of the means with a paired bootstrap interval.

Two explainers scored on the same clips (``eval.py`` with the same ``--max_clips``, ``--n_per_clip`` and
seed) share the items' difficulty: the per-item differences vary much less than either method's
scores, so their interval answers "is A better than B on these clips?" where two overlapping
per-method intervals cannot. Targets stated as ratios ("80% of the optimised mask's insertion AUC",
"at most twice its deletion AUC") are read on ``mean(A) / mean(B)``: a ratio of two means has no t
interval, so its 95% interval is the percentile interval of the ratio over bootstrap resamples of the
items (the same items drawn for A and B; ``scipy.stats.bootstrap`` with ``paired=True``, seeded).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

from lmac_brain.evaluation.tables import _columns, direction, mean_ci

#: Bootstrap resamples of the ratio interval.
RATIO_RESAMPLES = 4000
#: Rounding of the stored t interval (``mean_ci`` keeps 4 decimals): smaller differences are ties.
CI_RESOLUTION = 5e-5


def _per_item(rows: Iterable[Mapping[str, object]], method: str) -> Dict:
    """``{(set, item): {metric: value}}`` of one method (the sections of a run write separate rows per item)."""
    out: Dict = {}
    for row in rows:
        if row["method"] != method:
            continue
        values = out.setdefault((row["set"], row["item"]), {})
        values.update({k: float(v) for k, v in row.items() if direction(k) and v not in (None, "")})
    if not out:
        raise ValueError(f"No rows of method {method!r} in the results.")
    return out


def ratio_of_means(
    pairs: Sequence[Tuple[float, float]], level: float = 0.95, seed: int = 0
) -> Dict[str, Optional[float]]:
    """``mean(a) / mean(b)`` over paired values ``(a_i, b_i)`` and its paired bootstrap percentile interval.

    Items are resampled with replacement, the same draw for ``a`` and ``b``
    (``scipy.stats.bootstrap``, :data:`RATIO_RESAMPLES` resamples, ``seed``). The ratio is None where
    ``mean(b)`` is 0; the interval is None with fewer than two items, or where a resample's ``b`` mean is
    0 (the ratio is then unbounded).

    Example
    -------
    >>> r = ratio_of_means([(0.8, 1.0), (0.4, 0.5), (1.6, 2.0)])
    >>> round(r["ratio"], 6), [round(x, 6) for x in (r["low"], r["high"])]
    (0.8, [0.8, 0.8])
    >>> r = ratio_of_means([(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (2.0, 1.0)])
    >>> r["ratio"], r["low"] < 2.0 < r["high"]
    (2.0, True)
    """
    a = np.array([x for x, _ in pairs], dtype=float)
    b = np.array([y for _, y in pairs], dtype=float)
    if len(a) == 0 or b.mean() == 0:
        return {"ratio": None, "low": None, "high": None}
    out: Dict[str, Optional[float]] = {"ratio": float(a.mean() / b.mean()), "low": None, "high": None}
    if len(a) < 2:
        return out

    def ratio(x, y, axis=-1):
        return x.mean(axis=axis) / y.mean(axis=axis)

    with np.errstate(divide="ignore", invalid="ignore"):
        res = stats.bootstrap(
            (a, b),
            ratio,
            paired=True,
            vectorized=True,
            n_resamples=RATIO_RESAMPLES,
            confidence_level=level,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if np.isfinite(low) and np.isfinite(high):
        out.update(low=low, high=high)
    return out


def paired_differences(
    rows_a: Iterable[Mapping[str, object]],
    rows_b: Iterable[Mapping[str, object]],
    method_a: str,
    method_b: str,
    metrics: Optional[Sequence[str]] = None,
) -> Dict[str, Dict[str, Dict]]:
    """``{set: {metric: stats}}`` of ``A - B`` over the items both runs scored.

    ``stats``: :func:`~lmac_brain.evaluation.tables.mean_ci` of the per-item differences, plus the
    means of A and B on those items (``mean_a``, ``mean_b``) and their ratio with its paired bootstrap
    interval (``ratio``, ``ratio_low``, ``ratio_high``; :func:`ratio_of_means`). Only metrics with a
    value for both methods on at least one shared item appear; ``metrics`` restricts them further.

    Example
    -------
    >>> a = [{"set": "s", "method": "A", "item": i, "AI": v} for i, v in enumerate([3.0, 5.0, 4.0])]
    >>> b = [{"set": "s", "method": "B", "item": i, "AI": v} for i, v in enumerate([1.0, 4.0, 2.0])]
    >>> d = paired_differences(a, b, "A", "B")["s"]["AI"]
    >>> d["mean"], d["ci95"], d["n"], d["mean_a"], d["mean_b"], round(d["ratio"], 4)
    (1.6666666666666667, 1.4342, 3, 4.0, 2.3333333333333335, 1.7143)
    """
    a, b = _per_item(rows_a, method_a), _per_item(rows_b, method_b)
    values: Dict[str, Dict[str, List]] = {}
    for key in a.keys() & b.keys():
        for metric in a[key].keys() & b[key].keys():
            if metrics is None or metric in metrics:
                values.setdefault(key[0], {}).setdefault(metric, []).append((a[key][metric], b[key][metric]))
    out: Dict[str, Dict[str, Dict]] = {}
    for set_name in sorted(values):
        for metric in _columns(values[set_name]):
            pairs = values[set_name][metric]
            summary = mean_ci([x - y for x, y in pairs])
            summary.update(mean_a=sum(x for x, _ in pairs) / len(pairs), mean_b=sum(y for _, y in pairs) / len(pairs))
            ratio = ratio_of_means(pairs)
            summary.update(ratio=ratio["ratio"], ratio_low=ratio["low"], ratio_high=ratio["high"])
            out.setdefault(set_name, {})[metric] = summary
    return out


def paired_markdown(differences: Mapping[str, Mapping[str, Mapping]], name_a: str, name_b: str) -> str:
    """One Markdown table: set, metric, the two means, ``A - B`` with its paired 95% interval, which is
    better, and ``A / B`` with its bootstrap 95% interval.

    Example
    -------
    >>> d = {"s": {"Del AUC": {"mean": 0.03, "ci95": 0.01, "n": 100, "undefined": 0, "mean_a": 0.11, "mean_b": 0.08,
    ...                        "ratio": 1.375, "ratio_low": 1.2, "ratio_high": 1.61}}}
    >>> print(paired_markdown(d, "c5", "r7").splitlines()[2])
    | s | Del AUC (down) | 0.11 | 0.08 | +0.03 ± 0.01 | 100 | r7 | 1.38 [1.2, 1.61] |
    """
    lines = [
        f"| set | metric | {name_a} | {name_b} | {name_a} - {name_b} (paired 95% CI) | items | better | "
        f"{name_a} / {name_b} (bootstrap 95% CI) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for set_name, metrics in differences.items():
        for metric, s in metrics.items():
            if s["mean"] is None:
                continue
            half = s["ci95"]
            # the interval is stored to 4 decimals (mean_ci): a difference within that rounding is a tie
            # (two runs equal up to float noise, e.g. 2e-6, have a stored interval of 0)
            if half is None or abs(s["mean"]) <= max(half, CI_RESOLUTION):
                better = "tie"
            else:
                better = name_a if (s["mean"] > 0) == (direction(metric) == "up") else name_b
            interval = f"{s['mean']:+.3g}" + (f" ± {half:.2g}" if half is not None else "")
            ratio = "" if s.get("ratio") is None else f"{s['ratio']:.3g}"
            if ratio and s.get("ratio_low") is not None:
                ratio += f" [{s['ratio_low']:.3g}, {s['ratio_high']:.3g}]"
            lines.append(
                f"| {set_name} | {metric} ({direction(metric)}) | {s['mean_a']:.3g} | {s['mean_b']:.3g} | "
                f"{interval} | {s['n']} | {better} | {ratio} |"
            )
    return "\n".join(lines) + "\n"
