#!/usr/bin/env python3
"""Combine the results of evaluation runs into one table (mean and 95% Student-t CI).

    python recipes/ESC50/interpret/summarize.py FULL/results.csv RERUN/results.csv --out FOLDER

A (set, method) found in a later ``results.csv`` replaces the same (set, method) of the earlier ones:
re-run one part of the evaluation (``eval.py --sections "[sanity]"``) and put it in place. Writes
``results.csv``, ``summary.json`` and ``summary.md`` into ``--out`` (the header names the sources and
this command), and, for every set with matched-budget curves, ``budget_curves_<set>.png`` (as
``eval.py`` does for one run).

Authors
 * lmac_brain contributors 2026
"""

import argparse
import os
import shlex
import sys

from lmac_brain.evaluation.budget_figure import plot_budget_curves
from lmac_brain.evaluation.tables import merge_results, read_results, write_results


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs="+", help="results.csv files, earliest first")
    parser.add_argument("--out", required=True, help="folder for the combined results.csv, summary.json, summary.md")
    args = parser.parse_args(argv)
    try:
        tables = [read_results(path) for path in args.results]
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    headers = []
    for path in args.results:
        summary = os.path.join(os.path.dirname(path), "summary.md")
        first = open(summary, encoding="utf-8").read().split("\n\n")[0] if os.path.isfile(summary) else ""
        headers.append(f"- {path}" + (":\n  " + first.replace("\n", "\n  ") if first else ""))
    header = (
        "Combined by: "
        + shlex.join(["python", *sys.argv])
        + "\n(a later source replaces the same set and method of earlier ones)\n"
        + "\n".join(headers)
    )
    os.makedirs(args.out, exist_ok=True)
    summary = write_results(args.out, merge_results(tables), header)
    for set_name, methods in summary.items():  # the budgets are those of the curve columns (Ins@q)
        budgets = sorted({float(key[4:]) for stats in methods.values() for key in stats if key.startswith("Ins@")})
        if budgets:
            plot_budget_curves(methods, budgets, os.path.join(args.out, f"budget_curves_{set_name}.png"), set_name)
    print(open(os.path.join(args.out, "summary.md"), encoding="utf-8").read())


if __name__ == "__main__":
    main(sys.argv[1:])
