"""Results tables: per-item rows -> mean and 95% confidence interval per (set, method, metric).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import defaultdict
from typing import Dict, Iterable, List, Mapping, Sequence

from lmac_brain.atomic import write_text

#: metrics in table order and whether higher is better
DIRECTION = {
    "AI": "up", "AD": "down", "AG": "up", "FF": "up", "Fid-In": "up", "SPS": "up", "COMP": "down",
    "IoU": "up", "Pointing": "up", "SI-SDR": "up", "Spearman (head)": "down", "Spearman (all)": "down", "sec/clip": "down",
}


def mean_ci(values: Sequence[float]) -> Dict[str, float]:
    """Mean and half-width of the normal-approximation 95% interval (``1.96 * sd / sqrt(n)``).

    Example
    -------
    >>> mean_ci([1.0, 2.0, 3.0])
    {'mean': 2.0, 'ci95': 1.1316, 'n': 3}
    """
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "ci95": round(1.96 * sd / math.sqrt(n), 4), "n": n}


def summarize(rows: Iterable[Mapping[str, object]]) -> Dict[str, Dict[str, Dict[str, Dict[str, float]]]]:
    """``{set: {method: {metric: mean_ci}}}`` from rows with ``set``, ``method`` and metric columns.

    Example
    -------
    >>> rows = [{"set": "s", "method": "m", "item": "a", "AI": 100.0}, {"set": "s", "method": "m", "item": "b", "AI": 0.0}]
    >>> summarize(rows)["s"]["m"]["AI"]["mean"]
    50.0
    """
    values: Dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for row in rows:
        for key, value in row.items():
            if key in DIRECTION and value not in (None, ""):
                values[row["set"]][row["method"]][key].append(float(value))
    return {
        s: {m: {k: mean_ci(v) for k, v in metrics.items()} for m, metrics in methods.items()}
        for s, methods in values.items()
    }


def markdown(summary: Mapping, header: str = "") -> str:
    """One Markdown table per set: rows are methods, cells ``mean ± ci95``.

    Example
    -------
    >>> print(markdown({"s": {"m": {"AI": {"mean": 50.0, "ci95": 9.8, "n": 2}}}}).splitlines()[3])
    | method | AI (up) |
    """
    lines = [header] if header else []
    for set_name, methods in summary.items():
        metrics = [k for k in DIRECTION if any(k in m for m in methods.values())]
        n_items = max(v["n"] for m in methods.values() for v in m.values())
        lines += ["", f"### {set_name} ({n_items} items)", ""]
        lines.append("| method | " + " | ".join(f"{k} ({DIRECTION[k]})" for k in metrics) + " |")
        lines.append("|---" * (len(metrics) + 1) + "|")
        for method, stats in methods.items():
            cells = [f"{stats[k]['mean']:.3g} ± {stats[k]['ci95']:.2g}" if k in stats else "" for k in metrics]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(folder: str, rows: List[Mapping[str, object]], header: str = "") -> Dict:
    """Write ``results.csv`` (per item), ``summary.json`` and ``summary.md`` into ``folder``; return the summary.

    Example
    -------
    >>> out = write_results(str(getfixture("tmpdir")), [{"set": "s", "method": "m", "item": "a", "AI": 100.0}])
    >>> sorted(os.listdir(str(getfixture("tmpdir"))))
    ['results.csv', 'summary.json', 'summary.md']
    """
    columns = ["set", "method", "item"] + [k for k in DIRECTION if any(k in r for r in rows)]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(os.path.join(folder, "results.csv"), buf.getvalue())
    summary = summarize(rows)
    write_text(os.path.join(folder, "summary.json"), json.dumps(summary, indent=2))
    write_text(os.path.join(folder, "summary.md"), markdown(summary, header))
    return summary
