"""Results tables: per-item rows -> mean and 95% Student-t confidence interval per (set, method, metric).

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
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from scipy import stats

from lmac_brain.atomic import write_text

#: metrics in table order and whether higher is better: matched-budget first (lmac_brain.evaluation.budget), then
#: the soft-mask metrics, localization, sanity and cost
DIRECTION = {
    "Ins AUC": "up",
    "Del AUC": "down",
    "Ins AUC (energy)": "up",
    "Del AUC (energy)": "down",
    "p(full)": "up",
    "AI": "up",
    "AD": "down",
    "AG": "up",
    "FF": "up",
    "Fid-In": "up",
    "SPS": "up",
    "COMP": "down",
    "IoU": "up",
    "IoU (matched)": "up",
    "Pointing": "up",
    "SI-SDR": "up",
    "Heard (%)": "up",
    "Timeline acc (%)": "up",
    "Alone acc (%)": "up",
    "Spearman (head)": "down",
    "Spearman (all)": "down",
    "Rise": "up",
    "sec/clip": "down",
}

#: per-budget points of the curves (``Ins@0.1``, ``Del@0.1``; ``Listen@0.1``: the listening round trip,
#: :func:`lmac_brain.evaluation.evaluate.listening_rows`): in results.csv and summary.json; only ``Listen@`` in the
#: Markdown tables
CURVE_PREFIXES = {"Ins@": "up", "Del@": "down", "Listen@": "up"}


def direction(key: str) -> Optional[str]:
    """``"up"`` / ``"down"`` for a metric column (higher / lower is better), ``None`` for other columns.

    Example
    -------
    >>> direction("AI"), direction("Del@0.05"), direction("item")
    ('up', 'down', None)
    """
    if key in DIRECTION:
        return DIRECTION[key]
    return next((d for prefix, d in CURVE_PREFIXES.items() if key.startswith(prefix)), None)


def _columns(keys: Iterable[str]) -> List[str]:
    """Metric columns of ``keys`` in table order: :data:`DIRECTION`'s, then curve points by budget."""
    keys = set(keys)
    points = sorted(
        (k for k in keys if k not in DIRECTION and direction(k)),
        key=lambda k: (k.split("@")[0], float(k.split("@")[1])),
    )
    return [k for k in DIRECTION if k in keys] + points


def mean_ci(values: Sequence[float], level: float = 0.95) -> Dict[str, Optional[float]]:
    """Mean and half-width of the Student-t confidence interval, ``t(n-1) * sd / sqrt(n)``.

    The t quantile (not the normal 1.96) keeps small samples honest: at ``n = 4`` it is 3.18. NaN
    values (e.g. a rank correlation of a constant mask) are left out of the mean and counted in
    ``undefined``; with fewer than two values the interval is undefined (``None``).

    Example
    -------
    >>> mean_ci([1.0, 2.0, 3.0])
    {'mean': 2.0, 'ci95': 2.4841, 'n': 3, 'undefined': 0}
    >>> mean_ci([0.5, float("nan")])
    {'mean': 0.5, 'ci95': None, 'n': 1, 'undefined': 1}
    """
    finite = [float(v) for v in values if not math.isnan(float(v))]
    n, undefined = len(finite), len(values) - len(finite)
    if n == 0:
        return {"mean": None, "ci95": None, "n": 0, "undefined": undefined}
    mean = sum(finite) / n
    if n < 2:
        return {"mean": mean, "ci95": None, "n": n, "undefined": undefined}
    sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "ci95": round(half, 4), "n": n, "undefined": undefined}


def summarize(rows: Iterable[Mapping[str, object]]) -> Dict[str, Dict[str, Dict[str, Dict[str, float]]]]:
    """``{set: {method: {metric: mean_ci}}}`` from rows with ``set``, ``method`` and metric columns.

    Example
    -------
    >>> rows = [{"set": "s", "method": "m", "item": "a", "AI": 100.0},
    ...         {"set": "s", "method": "m", "item": "b", "AI": 0.0}]
    >>> summarize(rows)["s"]["m"]["AI"]["mean"]
    50.0
    """
    values: Dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for row in rows:
        for key, value in row.items():
            if direction(key) and value not in (None, ""):
                values[row["set"]][row["method"]][key].append(float(value))
    return {
        s: {m: {k: mean_ci(v) for k, v in metrics.items()} for m, metrics in methods.items()}
        for s, methods in values.items()
    }


def _cell(stat: Mapping) -> str:
    """``mean ± ci95`` of one :func:`mean_ci` result, saying how many items had no value.

    Example
    -------
    >>> _cell({"mean": 0.25, "ci95": 0.1, "n": 3, "undefined": 1}), _cell(
    ...     {"mean": None, "ci95": None, "n": 0, "undefined": 2})
    ('0.25 ± 0.1 (1 undefined)', 'undefined (2)')
    """
    if stat["mean"] is None:
        return f"undefined ({stat['undefined']})"
    text = f"{stat['mean']:.3g}" + (f" ± {stat['ci95']:.2g}" if stat["ci95"] is not None else " (n=1)")
    return text + (f" ({stat['undefined']} undefined)" if stat.get("undefined") else "")


def markdown(summary: Mapping, header: str = "") -> str:
    """One Markdown table per set: rows are methods, cells ``mean ± ci95`` (95% Student-t half-width).

    Example
    -------
    >>> print(markdown({"s": {"m": {"AI": {"mean": 50.0, "ci95": 9.8, "n": 2, "undefined": 0}}}}).splitlines()[3])
    | method | AI (up) |
    """
    lines = [header] if header else []
    for set_name, methods in summary.items():
        keys = {k for m in methods.values() for k in m}
        metrics = [k for k in _columns(keys) if not k.startswith(("Ins@", "Del@"))]  # tables: no curve points
        # sec/clip is recorded by more than one section per item: it does not count items
        n_items = max(v["n"] + v.get("undefined", 0) for m in methods.values() for k, v in m.items() if k != "sec/clip")
        lines += ["", f"### {set_name} ({n_items} items)", ""]
        lines.append("| method | " + " | ".join(f"{k} ({direction(k)})" for k in metrics) + " |")
        lines.append("|---" * (len(metrics) + 1) + "|")
        for method, summary in methods.items():
            cells = [_cell(summary[k]) if k in summary else "" for k in metrics]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def read_results(path: str) -> List[Dict[str, str]]:
    """The rows of a ``results.csv`` written by :func:`write_results` (cells as strings, empty = no value).

    Example
    -------
    >>> folder = str(getfixture("tmpdir"))
    >>> _ = write_results(folder, [{"set": "s", "method": "m", "item": "a", "AI": 100.0}])
    >>> read_results(os.path.join(folder, "results.csv"))
    [{'set': 's', 'method': 'm', 'item': 'a', 'AI': '100.0'}]
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No results file {path}: give the results.csv of an evaluation run (eval.py).")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    missing = {"set", "method", "item"} - set(rows[0] if rows else {})
    if not rows or missing:
        raise ValueError(f"{path} is not a results table of eval.py (no rows, or no columns {sorted(missing)}).")
    return rows


def merge_results(tables: Sequence[Sequence[Mapping[str, object]]]) -> List[Mapping[str, object]]:
    """Rows of several evaluation runs in one list; a (set, method) of a later table replaces it in earlier ones.

    So a part of the evaluation re-run on its own (``eval.py --sections "[sanity]"``) takes the place of
    that part of a full run, and nothing else changes.

    Example
    -------
    >>> full = [{"set": "in_domain", "method": "m", "item": "a"}, {"set": "sanity", "method": "m", "item": "a"}]
    >>> rerun = [{"set": "sanity", "method": "m", "item": "a"}, {"set": "sanity", "method": "m", "item": "b"}]
    >>> [(r["set"], r["item"]) for r in merge_results([full, rerun])]
    [('in_domain', 'a'), ('sanity', 'a'), ('sanity', 'b')]
    """
    merged: List[Mapping[str, object]] = []
    for table in tables:
        replaced = {(r["set"], r["method"]) for r in table}
        merged = [r for r in merged if (r["set"], r["method"]) not in replaced] + list(table)
    return merged


def write_results(folder: str, rows: List[Mapping[str, object]], header: str = "") -> Dict:
    """Write ``results.csv`` (per item), ``summary.json`` and ``summary.md`` into ``folder``; return the summary.

    Example
    -------
    >>> out = write_results(str(getfixture("tmpdir")), [{"set": "s", "method": "m", "item": "a", "AI": 100.0}])
    >>> sorted(os.listdir(str(getfixture("tmpdir"))))
    ['results.csv', 'summary.json', 'summary.md']
    """
    columns = ["set", "method", "item"] + _columns(k for r in rows for k in r)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text(os.path.join(folder, "results.csv"), buf.getvalue())
    summary = summarize(rows)
    write_text(os.path.join(folder, "summary.json"), json.dumps(summary, indent=2))
    write_text(os.path.join(folder, "summary.md"), markdown(summary, header))
    return summary
