#!/usr/bin/env python3
"""Write a folder-per-class dataset of ESC-50 classes, the input of the custom-data recipes.

    python recipes/custom/interpret/esc50_subset.py ../shared/data/esc50-16k results/esc10_folders

writes ``results/esc10_folders/<category>/<filename>``: all 40 clips of each of the first 10 ESC-50
categories in sorted order (400 clips), as symbolic links to the original files. ``--classes dog rain``
takes those categories instead, ``--n_classes N`` the first N, ``--copy`` copies the files. The output
folder must be new or empty (or written by this script before: it is then replaced); a folder holding
other files is refused. Then fine-tune, train L-MAC and evaluate with ``--dataset results/esc10_folders``
(README, "Fine-tune on your own data").

Authors
 * lmac_brain contributors 2026
"""

import argparse
import sys

from lmac_brain.data.esc50_subset import write_esc50_class_folders


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("esc50_folder", help="ESC-50 folder (meta/esc50.csv, audio/)")
    parser.add_argument("out", help="folder to write (new or empty)")
    parser.add_argument("--classes", nargs="+", help="ESC-50 categories (default: the first --n_classes, sorted)")
    parser.add_argument("--n_classes", type=int, default=10, help="how many categories without --classes")
    parser.add_argument("--copy", action="store_true", help="copy the files instead of linking them")
    args = parser.parse_args(argv)
    try:
        plan = write_esc50_class_folders(args.esc50_folder, args.out, args.classes, args.n_classes, args.copy)
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    how = "copies" if args.copy else "links"
    for category, names in plan.items():
        print(f"{args.out}/{category}: {len(names)} {how}")
    print(f"{sum(len(n) for n in plan.values())} clips of {len(plan)} classes written into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
