"""Figure of the matched-budget curves: insertion and deletion against the budget, one line per method.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lmac_brain.atomic import atomic_path  # noqa: E402

#: methods drawn dashed: the floors every explanation must beat (lmac_brain.explain.floors)
FLOORS = ("Energy", "Random")


def plot_budget_curves(methods: Mapping[str, Mapping], budgets: Sequence[float], path: str, title: str = "") -> str:
    """Write a PNG of the mean insertion and deletion curves of every method of one set.

    Arguments
    ---------
    methods : mapping
        ``{method: {"Ins@q": {"mean", "ci95", ...}, "Del@q": ...}}``, one set of a
        :func:`lmac_brain.evaluation.tables.summarize` result.
    budgets : sequence of float
        The budgets ``q`` of the curves.
    path : str
        PNG file to write (atomically).
    title : str
        Figure title (the set's name).

    Returns
    -------
    str
        ``path``.

    Example
    -------
    >>> stat = lambda v: {"mean": v, "ci95": 0.01, "n": 2, "undefined": 0}
    >>> curves = {m: {f"{k}@{q:g}": stat(v * q) for k in ("Ins", "Del") for q in (0.1, 0.5)}
    ...           for m, v in (("L-MAC", 1.0), ("Energy", 0.5))}
    >>> out = plot_budget_curves(curves, [0.1, 0.5], str(getfixture("tmpdir") / "curves.png"), "in_domain")
    >>> open(out, "rb").read(4) == b"\\x89PNG"
    True
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharex=True)
    for ax, (key, label) in zip(
        axes, (("Ins", "insertion: p(class | top q kept) (up)"), ("Del", "deletion: p(class | top q removed) (down)"))
    ):
        for method, stats in methods.items():
            points = [stats.get(f"{key}@{q:g}") for q in budgets]
            if any(p is None or p["mean"] is None for p in points):
                continue
            mean = [p["mean"] for p in points]
            half = [p["ci95"] or 0.0 for p in points]
            style = "--" if method in FLOORS else "-"
            (line,) = ax.plot(budgets, mean, style, marker="o", markersize=3, label=method)
            ax.fill_between(
                budgets,
                [m - h for m, h in zip(mean, half)],
                [m + h for m, h in zip(mean, half)],
                color=line.get_color(),
                alpha=0.12,
                linewidth=0,
            )
        ax.set_xlabel("budget q (share of time-frequency bins)")
        ax.set_title(label, fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path
