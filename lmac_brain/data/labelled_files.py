"""Your own labelled audio files: a ``path,label[,fold]`` CSV or a folder per class -> a list of labelled files.

Two layouts are read:

* a CSV file with the header ``path,label`` or ``path,label,fold`` (no other columns). ``path`` is
  absolute or relative to the CSV's folder; ``fold`` is any token (``1``, ``fold3``, ...);
* a folder holding one sub-folder per class, named after the class, with the audio files inside
  (sub-folders of a class folder are searched too): ``root/<class>/**/*.wav|flac|ogg|mp3|aif|aiff``.
  Hidden files and folders are skipped; other files in class folders are skipped with a warning.

``ID`` is the file's path relative to the dataset folder (the CSV's folder for a CSV), without
extension, ``/`` written as ``__`` and other characters than letters, digits, ``.``, ``-`` and ``_`` as
``_`` (``dog/take 1.wav`` -> ``dog__take_1``). :mod:`lmac_brain.data.custom_data` splits the list and
writes the manifests.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import csv
import logging
import os
import re
from typing import Dict, List, NamedTuple, Optional, Sequence

from lmac_brain.data.files import AUDIO_EXTENSIONS, PathLike, is_audio_file, list_audio_files
from lmac_brain.data.manifests import check_audio_exists

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("path", "label", "fold")
"""Columns a data CSV may have; ``fold`` is optional."""


class LabelledFile(NamedTuple):
    """One audio file of a custom dataset."""

    id: str
    """Unique item ID derived from the relative path (see the module docstring)."""
    wav: str
    """Absolute path of the audio file."""
    label: str
    """Class name."""
    fold: Optional[str]
    """Fold token from the CSV, or None."""


def item_id(path: PathLike, base: PathLike) -> str:
    """ID of the file ``path`` in a dataset rooted at ``base``: relative path, no extension, made safe.

    A path outside ``base`` uses its whole absolute path (without the root).

    Example
    -------
    >>> item_id("/data/dog/take 1.wav", "/data")
    'dog__take_1'
    >>> item_id("/elsewhere/cat.flac", "/data")
    'elsewhere__cat'
    """
    path, base = os.path.abspath(os.fspath(path)), os.path.abspath(os.fspath(base))
    rel = os.path.relpath(path, base)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        rel = os.path.splitdrive(path)[1].lstrip(os.sep)
    parts = os.path.splitext(rel)[0].replace(os.sep, "/").split("/")
    return "__".join(re.sub(r"[^\w.-]", "_", part) for part in parts)


def read_labelled_csv(csv_path: PathLike) -> List[LabelledFile]:
    """Read a ``path,label[,fold]`` CSV; relative paths are taken from the CSV's folder.

    Arguments
    ---------
    csv_path : str or os.PathLike
        The CSV file.

    Returns
    -------
    list of LabelledFile
        In the CSV's row order; ``fold`` is None when the CSV has no ``fold`` column.

    Raises
    ------
    ValueError
        For a missing header, unknown or missing columns, empty cells, a file listed twice, two files
        with the same ID, or files that do not exist.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> tmp = getfixture("tmpdir")
    >>> sf.write(str(tmp / "a.wav"), np.zeros(800), 16000)
    >>> _ = (tmp / "data.csv").write("path,label\\na.wav,dog\\n")
    >>> [(f.id, f.label, f.fold) for f in read_labelled_csv(tmp / "data.csv")]
    [('a', 'dog', None)]
    """
    csv_path = os.path.abspath(os.fspath(csv_path))
    base = os.path.dirname(csv_path)
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        unknown = [h for h in header if h not in CSV_COLUMNS]
        if not header or unknown or "path" not in header or "label" not in header or len(set(header)) != len(header):
            problem = f"unknown column(s) {unknown}" if unknown else "missing or repeated column(s)"
            raise ValueError(
                f"{csv_path}: {problem} in the header {header}. A data CSV has exactly the columns "
                "path,label (seeded split) or path,label,fold (your folds); rename or drop the others."
            )
        col = {name: header.index(name) for name in header}
        files = []
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue  # blank line
            cells = {name: (row[i].strip() if i < len(row) else "") for name, i in col.items()}
            empty = [name for name, value in cells.items() if not value]
            if len(row) > len(header) or empty:
                raise ValueError(
                    f"{csv_path}, line {line}: expected {len(header)} non-empty cells ({','.join(header)}), got {row}."
                )
            wav = os.path.normpath(os.path.join(base, cells["path"]))
            files.append(LabelledFile(item_id(wav, base), wav, cells["label"], cells.get("fold")))
    if not files:
        raise ValueError(f"{csv_path}: no rows; list one audio file per line as path,label[,fold].")
    _check_unique(files, csv_path)
    check_audio_exists(
        [f.wav for f in files],
        str(csv_path),
        "Relative paths are taken from the CSV's folder; fix the paths or remove the rows.",
    )
    return files


def scan_class_folders(root: PathLike) -> List[LabelledFile]:
    """List the audio files of a folder-per-class tree (``root/<class>/**/<file>``).

    Each class folder is listed by :func:`lmac_brain.data.files.list_audio_files` (the project's formats:
    :data:`lmac_brain.data.files.AUDIO_EXTENSIONS`).

    Arguments
    ---------
    root : str or os.PathLike
        The dataset folder; each non-hidden sub-folder is a class.

    Returns
    -------
    list of LabelledFile
        Sorted by class, then by path; ``fold`` is None.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder.
    ValueError
        If ``root`` has no class folders, a class folder holds no audio file, audio files lie directly
        in ``root``, or two files get the same ID.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> root = getfixture("tmpdir").mkdir("sounds")
    >>> for name in ("dog/a.wav", "dog/b.flac", "rain/x.wav"):
    ...     _ = (root / name).dirpath().ensure(dir=True)
    ...     sf.write(str(root / name), np.zeros(800), 16000)
    >>> [(f.id, f.label) for f in scan_class_folders(root)]
    [('dog__a', 'dog'), ('dog__b', 'dog'), ('rain__x', 'rain')]
    """
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"{root}: data folder not found. Give a folder with one sub-folder per class "
            "(root/<class>/*.wav) or a CSV file with the columns path,label[,fold]."
        )
    entries = sorted(e for e in os.listdir(root) if not e.startswith("."))
    loose = [e for e in entries if os.path.isfile(os.path.join(root, e)) and is_audio_file(e)]
    if loose:
        raise ValueError(
            f"{root}: {len(loose)} audio file(s) lie directly in the data folder (e.g. {loose[0]}), outside "
            "any class folder. Move each into root/<class>/, or point dataset at the folder above."
        )
    classes = [e for e in entries if os.path.isdir(os.path.join(root, e))]
    if not classes:
        raise ValueError(
            f"{root}: no class folders. Put the audio of each class in its own sub-folder named after "
            "the class (root/<class>/*.wav)."
        )
    files, skipped = [], []
    for label in classes:
        folder = os.path.join(root, label)
        try:
            found = list_audio_files(folder)
        except ValueError:
            raise ValueError(
                f"{folder}: the class folder holds no audio file ({', '.join(AUDIO_EXTENSIONS)}). "
                "Add recordings of this class or remove the folder."
            ) from None
        files += [LabelledFile(item_id(p, root), p, label, None) for p in found]
        skipped += _other_files(folder)
    if skipped:
        logger.warning("Skipped %d non-audio file(s) in %s, e.g. %s", len(skipped), root, skipped[0])
    _check_unique(files, root)
    return files


def list_labelled_files(data: PathLike) -> List[LabelledFile]:
    """Read a data CSV (:func:`read_labelled_csv`) or scan a class-folder tree (:func:`scan_class_folders`).

    ``data`` is a CSV when it is a file, a folder-per-class tree otherwise. At least two classes are
    required.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> root = getfixture("tmpdir").mkdir("sounds")
    >>> for name in ("dog/a.wav", "rain/x.wav"):
    ...     _ = (root / name).dirpath().ensure(dir=True)
    ...     sf.write(str(root / name), np.zeros(800), 16000)
    >>> len(list_labelled_files(root))
    2
    """
    data = os.fspath(data)
    if os.path.isfile(data) and not data.lower().endswith(".csv"):
        raise ValueError(
            f"{data}: expected a CSV file (name ending in .csv, columns path,label[,fold]) or a folder with one "
            "sub-folder per class."
        )
    files = read_labelled_csv(data) if os.path.isfile(data) else scan_class_folders(data)
    classes = sorted({f.label for f in files})
    if len(classes) < 2:
        raise ValueError(
            f"{data}: only one class ({classes[0]!r}); a classifier needs at least two. Add the "
            "recordings of the other classes."
        )
    return files


def count_classes(data: PathLike) -> int:
    """Number of classes of a custom dataset (used by the YAML to size the classification head).

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> root = getfixture("tmpdir").mkdir("sounds")
    >>> for name in ("dog/a.wav", "rain/x.wav", "wind/w.wav"):
    ...     _ = (root / name).dirpath().ensure(dir=True)
    ...     sf.write(str(root / name), np.zeros(800), 16000)
    >>> count_classes(root)
    3
    """
    return len({f.label for f in list_labelled_files(data)})


def _other_files(folder: str) -> List[str]:
    """Non-hidden files under ``folder`` (hidden folders skipped) that are not audio: skipped with a warning."""
    other = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        other += [os.path.join(root, n) for n in sorted(names) if not n.startswith(".") and not is_audio_file(n)]
    return other


def _check_unique(files: Sequence[LabelledFile], source: str) -> None:
    """No file listed twice, no two files with the same ID."""
    by_wav: Dict[str, LabelledFile] = {}
    by_id: Dict[str, LabelledFile] = {}
    for f in files:
        if f.wav in by_wav:
            raise ValueError(f"{source}: {f.wav} is listed more than once. List each audio file once.")
        if f.id in by_id:
            raise ValueError(
                f"{source}: {by_id[f.id].wav} and {f.wav} get the same ID {f.id!r} (IDs are the relative "
                "path without extension). Rename one of them."
            )
        by_wav[f.wav] = by_id[f.id] = f
