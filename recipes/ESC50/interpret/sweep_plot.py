#!/usr/bin/env python3
"""Compare L-MAC configurations on the matched-budget metrics: a Markdown table and a scatter plot.

    python recipes/ESC50/interpret/sweep_plot.py NAME=EVAL_FOLDER [NAME=EVAL_FOLDER ...] --out FOLDER

Each ``EVAL_FOLDER`` is the output of ``eval.py --sections "[budget]"`` for one trained decoder (on the
development fold); the floors (Energy, Random) are read from the first folder that has them. Writes
``sweep.md`` (per set: insertion and deletion AUC by bins and by energy, mean ± 95% CI) and
``sweep.png`` (deletion AUC against insertion AUC per configuration and set; up-left is better; the
floors marked) into ``--out``.

Authors
 * lmac_brain contributors 2026
"""

import argparse
import json
import os
import shlex
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lmac_brain.atomic import atomic_path, write_text  # noqa: E402
from lmac_brain.evaluation.budget_figure import FLOORS  # noqa: E402

COLUMNS = ("Ins AUC", "Del AUC", "Ins AUC (energy)", "Del AUC (energy)")


def _cell(stat):
    return f"{stat['mean']:.3f} ± {stat['ci95']:.3f}" if stat and stat.get("ci95") is not None else "—"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="NAME=EVAL_FOLDER (eval.py output with the budget section)")
    parser.add_argument("--method", default="L-MAC", help="the method of each run to compare (default L-MAC)")
    parser.add_argument("--out", required=True, help="folder for sweep.md and sweep.png")
    args = parser.parse_args(argv)
    runs = {}
    for spec in args.runs:
        name, sep, folder = spec.partition("=")
        path = os.path.join(folder, "summary.json")
        if not sep or not os.path.isfile(path):
            parser.exit(2, f"error: {spec!r}: give NAME=FOLDER where FOLDER holds the summary.json of eval.py\n")
        runs[name] = json.load(open(path, encoding="utf-8"))
    sets = [s for s in next(iter(runs.values())) if "Ins AUC" in str(next(iter(runs.values()))[s])]
    rows = {}  # (set, label) -> stats
    for name, summary in runs.items():
        for set_name in sets:
            methods = summary.get(set_name, {})
            if args.method in methods:
                rows[(set_name, name)] = methods[args.method]
            for floor in FLOORS:
                if floor in methods and (set_name, floor) not in rows:
                    rows[(set_name, floor)] = methods[floor]
    lines = [
        f"Matched-budget AUCs of {args.method} per configuration (floors: {', '.join(FLOORS)}).",
        "Command: " + shlex.join(["python", *sys.argv]),
        "",
    ]
    for set_name in sets:
        lines += [
            f"### {set_name}",
            "",
            "| configuration | " + " | ".join(COLUMNS) + " |",
            "|---" * (len(COLUMNS) + 1) + "|",
        ]
        for (s, label), stats in rows.items():
            if s == set_name:
                lines.append(f"| {label} | " + " | ".join(_cell(stats.get(c)) for c in COLUMNS) + " |")
        lines.append("")
    os.makedirs(args.out, exist_ok=True)
    write_text(os.path.join(args.out, "sweep.md"), "\n".join(lines))

    fig, axes = plt.subplots(1, len(sets), figsize=(3.6 * len(sets), 3.4), squeeze=False)
    for ax, set_name in zip(axes[0], sets):
        for (s, label), stats in rows.items():
            if s != set_name or "Ins AUC" not in stats:
                continue
            x, y = stats["Ins AUC"]["mean"], stats["Del AUC"]["mean"]
            marker = "x" if label in FLOORS else "o"
            ax.errorbar(x, y, xerr=stats["Ins AUC"]["ci95"], yerr=stats["Del AUC"]["ci95"], fmt=marker, capsize=2)
            ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_title(set_name, fontsize=9)
        ax.set_xlabel("insertion AUC (up)")
        ax.set_ylabel("deletion AUC (down)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(os.path.join(args.out, "sweep.png")) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
