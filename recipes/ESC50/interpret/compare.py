#!/usr/bin/env python3
"""Compare two evaluation runs on the same items: per-item differences A - B with a paired 95% t interval,
and the ratio of the means A / B with a paired bootstrap 95% interval.

    python recipes/ESC50/interpret/compare.py A/results.csv B/results.csv [--names c5 r7]
        [--methods L-MAC L-MAC] [--metrics "Ins AUC" "Del AUC" Fid-In]

Both runs must have scored the same items (``eval.py`` with the same ``--max_clips``, ``--n_per_clip``
and seed); only the items both scored count. Prints one Markdown table (``better``: the run whose
metric is better with the interval excluding 0, or ``tie``; the last column is what targets stated
as ratios, such as "80% of the optimised mask's insertion AUC", are read on).

Authors
 * lmac_brain contributors 2026
"""

import argparse
import sys

from lmac_brain.evaluation.paired import paired_differences, paired_markdown
from lmac_brain.evaluation.tables import read_results


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", nargs=2, help="the results.csv of run A and of run B")
    parser.add_argument("--names", nargs=2, default=["A", "B"], help="names of the two runs in the table")
    parser.add_argument("--methods", nargs=2, default=["L-MAC", "L-MAC"], help="the method compared in each run")
    parser.add_argument("--metrics", nargs="+", default=None, help="only these metrics (default: all both runs have)")
    args = parser.parse_args(argv)
    try:
        rows = [read_results(path) for path in args.results]
        differences = paired_differences(rows[0], rows[1], *args.methods, metrics=args.metrics)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    if not differences:
        parser.exit(
            2, f"error: {args.results[0]} and {args.results[1]} share no scored item of these methods and metrics.\n"
        )
    print(paired_markdown(differences, *args.names), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
