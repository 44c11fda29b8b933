#!/usr/bin/env python3
"""A training run's validation values against its training hours: a Markdown table and a figure.

    python recipes/ESC50/interpret/training_curve.py RUN_FOLDER [--metrics "valid budget" ...] \
        [--every 8] [--png FILE]

``RUN_FOLDER`` is a recipe's output folder (``results/lmac_cnn14_cpu/1234``): its ``train_log.txt`` gives
each epoch's values, its ``log.txt`` each epoch's wall time (stops excluded;
``lmac_brain.training.curve``). Prints the table; ``--png`` also draws each metric against the hours,
the phases' boundaries marked.

Authors
 * lmac_brain contributors 2026
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lmac_brain.atomic import atomic_path  # noqa: E402
from lmac_brain.training.curve import curve_table, training_curve  # noqa: E402

METRICS = ["valid budget", "valid budget_in", "valid budget_out", "valid AI"]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_folder", help="a recipe's output folder with train_log.txt and log.txt")
    parser.add_argument("--metrics", nargs="+", default=METRICS, help=f"epoch-line values (default {METRICS})")
    parser.add_argument("--every", type=int, default=4, help="table rows: every N-th epoch and the last (4)")
    parser.add_argument("--png", help="also write the figure here")
    args = parser.parse_args(argv)
    logs = [os.path.join(args.run_folder, name) for name in ("log.txt", "train_log.txt")]
    for path in logs:
        if not os.path.isfile(path):
            sys.exit(f"error: {path} not found: give a recipe's output folder (it holds log.txt and train_log.txt).")
    texts = []
    for path in logs:
        with open(path, encoding="utf-8") as f:
            texts.append(f.read())
    try:
        rows = training_curve(*texts)
        print(curve_table(rows, args.metrics, every=max(1, args.every)))
    except ValueError as err:
        sys.exit(f"error: {args.run_folder}: {err}")
    if args.png:
        hours = [r["hours"] for r in rows]
        bounds = [r["hours"] for prev, r in zip(rows, rows[1:]) if r.get("phase") != prev.get("phase")]
        fig, axes = plt.subplots(len(args.metrics), 1, figsize=(6, 1.8 * len(args.metrics)), sharex=True)
        for ax, metric in zip(list(axes) if len(args.metrics) > 1 else [axes], args.metrics):
            ax.plot(hours, [r[metric] for r in rows], marker=".", lw=1)
            for b in bounds:
                ax.axvline(b, color="grey", lw=0.6, ls="--")
            ax.set_ylabel(metric, fontsize=8)
        ax.set_xlabel("training hours (phase boundaries dashed)")
        fig.tight_layout()
        with atomic_path(args.png) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        plt.close(fig)
        print(f"figure: {args.png}")


if __name__ == "__main__":
    main(sys.argv[1:])
