"""A folder-per-class dataset of some ESC-50 classes: the custom-data recipes' input made from ESC-50.

:func:`write_esc50_class_folders` writes ``out/<category>/<filename>`` for every clip of the chosen
categories (all 40 clips of each, all folds), as symbolic links to the original files (or copies), so
that ``recipes/custom/interpret/`` can fine-tune, explain and evaluate on real data of known quality.
``out`` must be new or empty, or a folder this module wrote before (its hidden record
``.esc50_subset.json`` lists every file it wrote, and the folder holds nothing else): a folder of
someone else's files is never written into.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Dict, List, Optional, Sequence

from lmac_brain.atomic import atomic_folder
from lmac_brain.data.esc50 import read_esc50_meta
from lmac_brain.data.files import PathLike
from lmac_brain.data.manifests import check_audio_exists

#: The record of what was written, inside the output folder (hidden: not a class).
RECORD = ".esc50_subset.json"


def choose_categories(
    categories: Sequence[str], classes: Optional[Sequence[str]] = None, n_classes: int = 10
) -> List[str]:
    """The categories to write: ``classes`` (checked, duplicates dropped) or the first ``n_classes`` in sorted order.

    Example
    -------
    >>> choose_categories(["rain", "dog", "clock_tick", "wind"], n_classes=2)
    ['clock_tick', 'dog']
    >>> choose_categories(["rain", "dog"], ["rain", "dgo"])
    Traceback (most recent call last):
    ...
    ValueError: Unknown ESC-50 categories ['dgo']; the meta file has: dog, rain.
    """
    known = sorted(set(categories))
    if classes is None:
        if not 1 <= n_classes <= len(known):
            raise ValueError(f"n_classes={n_classes}: choose between 1 and {len(known)} (the meta file's categories).")
        return known[:n_classes]
    chosen = list(dict.fromkeys(classes))
    unknown = [c for c in chosen if c not in known]
    if unknown or not chosen:
        raise ValueError(f"Unknown ESC-50 categories {unknown}; the meta file has: {', '.join(known)}.")
    return chosen


def _owned(out: str) -> bool:
    """True if ``out`` is missing, empty, or holds only the files its record lists (and the record)."""
    if not os.path.lexists(out):
        return True
    if os.path.islink(out) or not os.path.isdir(out):
        raise FileExistsError(f"{out} exists and is not a folder; choose a new folder for the class folders.")
    if not os.listdir(out):
        return True
    record = os.path.join(out, RECORD)
    if not os.path.isfile(record):
        return False
    with open(record, encoding="utf-8") as f:
        written = set(json.load(f).get("files", []))
    for root, _, files in os.walk(out):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), out).replace(os.sep, "/")
            if rel != RECORD and rel not in written:
                return False
    return True


def write_esc50_class_folders(
    data_folder: PathLike,
    out: PathLike,
    classes: Optional[Sequence[str]] = None,
    n_classes: int = 10,
    copy: bool = False,
) -> Dict[str, List[str]]:
    """Write ``out/<category>/<filename>`` for every ESC-50 clip of the chosen categories.

    Arguments
    ---------
    data_folder : str or os.PathLike
        ESC-50 folder (``meta/esc50.csv``, ``audio/``); only read.
    out : str or os.PathLike
        The folder-per-class dataset to write: new, empty, or written by this function before (then it
        is replaced). Assembled beside it and renamed into place.
    classes : sequence of str, optional
        ESC-50 categories to take; default: the first ``n_classes`` in sorted order.
    n_classes : int
        How many categories without ``classes``.
    copy : bool
        Copy the files instead of linking them (symbolic links to their absolute paths).

    Returns
    -------
    dict
        Category -> file names written into its folder, sorted.

    Raises
    ------
    FileExistsError
        If ``out`` holds files this function did not write (nothing is changed), or is a file.
    FileNotFoundError
        If the meta file or an audio file of a chosen clip is missing.
    ValueError
        For unknown categories or a bad ``n_classes``.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> (tmp / "esc" / "meta").mkdir(parents=True); (tmp / "esc" / "audio").mkdir()
    >>> rows = [("1-1-A-0.wav", 1, 0, "dog"), ("2-2-A-0.wav", 2, 0, "dog"), ("1-3-A-10.wav", 1, 10, "rain")]
    >>> _ = (tmp / "esc" / "meta" / "esc50.csv").write_text(
    ...     "filename,fold,target,category\\n" + "".join(f"{f},{k},{t},{c}\\n" for f, k, t, c in rows))
    >>> for f, *_ in rows:
    ...     _ = (tmp / "esc" / "audio" / f).write_bytes(b"RIFF")
    >>> write_esc50_class_folders(tmp / "esc", tmp / "out", n_classes=1)
    {'dog': ['1-1-A-0.wav', '2-2-A-0.wav']}
    >>> os.path.islink(tmp / "out" / "dog" / "1-1-A-0.wav")
    True
    >>> _ = (tmp / "mine").mkdir(); _ = (tmp / "mine" / "notes.txt").write_text("keep")
    >>> write_esc50_class_folders(tmp / "esc", tmp / "mine", n_classes=1)
    Traceback (most recent call last):
    ...
    FileExistsError: .../mine is not empty and was not written by this script ...
    """
    data_folder = os.path.abspath(os.fspath(data_folder))
    out = os.path.abspath(os.fspath(out))
    rows = read_esc50_meta(data_folder)
    chosen = choose_categories([str(r["category"]) for r in rows], classes, n_classes)
    plan: Dict[str, List[str]] = {c: sorted(str(r["filename"]) for r in rows if r["category"] == c) for c in chosen}
    sources = [os.path.join(data_folder, "audio", name) for names in plan.values() for name in names]
    check_audio_exists(sources, f"{data_folder}/meta/esc50.csv", "Restore the ESC-50 audio folder.")
    if not _owned(out):
        raise FileExistsError(
            f"{out} is not empty and was not written by this script (no {RECORD} listing its files, or other files "
            "beside them); choose a new or empty folder."
        )
    with atomic_folder(out, overwrite=True) as tmp:
        for category, names in plan.items():
            os.makedirs(os.path.join(tmp, category))
            for name in names:
                src, dst = os.path.join(data_folder, "audio", name), os.path.join(tmp, category, name)
                shutil.copyfile(src, dst) if copy else os.symlink(src, dst)
        record = {
            "source": data_folder,
            "classes": chosen,
            "copy": copy,
            "files": [f"{c}/{name}" for c, names in plan.items() for name in names],
        }
        with open(os.path.join(tmp, RECORD), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
    return plan
