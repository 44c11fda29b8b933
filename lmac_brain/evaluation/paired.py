"""Two evaluation runs on the same items, compared item by item: paired differences with a 95% t interval.

Two explainers scored on the same clips (``eval.py`` with the same ``--max_clips``, ``--n_per_clip`` and
seed) share the items' difficulty: the per-item differences vary much less than either method's
scores, so their interval answers "is A better than B on these clips?" where two overlapping
per-method intervals cannot.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from lmac_brain.evaluation.tables import _columns, direction, mean_ci


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


def paired_differences(
    rows_a: Iterable[Mapping[str, object]], rows_b: Iterable[Mapping[str, object]], method_a: str, method_b: str,
    metrics: Optional[Sequence[str]] = None,
) -> Dict[str, Dict[str, Dict]]:
    """``{set: {metric: stats}}`` of ``A - B`` over the items both runs scored.

    ``stats``: :func:`~lmac_brain.evaluation.tables.mean_ci` of the per-item differences, plus the
    means of A and B on those items (``mean_a``, ``mean_b``). Only metrics with a value for both methods
    on at least one shared item appear; ``metrics`` restricts them further.

    Example
    -------
    >>> a = [{"set": "s", "method": "A", "item": i, "AI": v} for i, v in enumerate([3.0, 5.0, 4.0])]
    >>> b = [{"set": "s", "method": "B", "item": i, "AI": v} for i, v in enumerate([1.0, 4.0, 2.0])]
    >>> d = paired_differences(a, b, "A", "B")["s"]["AI"]
    >>> d["mean"], d["ci95"], d["n"], d["mean_a"], d["mean_b"]
    (1.6666666666666667, 1.4342, 3, 4.0, 2.3333333333333335)
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
            stats = mean_ci([x - y for x, y in pairs])
            stats.update(mean_a=sum(x for x, _ in pairs) / len(pairs), mean_b=sum(y for _, y in pairs) / len(pairs))
            out.setdefault(set_name, {})[metric] = stats
    return out


def paired_markdown(differences: Mapping[str, Mapping[str, Mapping]], name_a: str, name_b: str) -> str:
    """One Markdown table: set, metric, the two means, ``A - B`` with its paired 95% interval, and which is better.

    Example
    -------
    >>> d = {"s": {"Del AUC": {"mean": 0.03, "ci95": 0.01, "n": 100, "undefined": 0, "mean_a": 0.11, "mean_b": 0.08}}}
    >>> print(paired_markdown(d, "c5", "r7").splitlines()[2])
    | s | Del AUC (down) | 0.11 | 0.08 | +0.03 ± 0.01 | 100 | r7 |
    """
    lines = [f"| set | metric | {name_a} | {name_b} | {name_a} - {name_b} (paired 95% CI) | items | better |",
             "|---|---|---|---|---|---|---|"]
    for set_name, metrics in differences.items():
        for metric, s in metrics.items():
            if s["mean"] is None:
                continue
            half = s["ci95"]
            if half is None or abs(s["mean"]) <= half:
                better = "tie"
            else:
                better = name_a if (s["mean"] > 0) == (direction(metric) == "up") else name_b
            interval = f"{s['mean']:+.3g}" + (f" ± {half:.2g}" if half is not None else "")
            lines.append(f"| {set_name} | {metric} ({direction(metric)}) | {s['mean_a']:.3g} | {s['mean_b']:.3g} | "
                         f"{interval} | {s['n']} | {better} |")
    return "\n".join(lines) + "\n"
