"""ESC-50 preparation: download the archive and write SpeechBrain CSV manifests per split.

The dataset folder is only ever read (or filled by :func:`download_esc50`); the manifests go to
the experiment folder. This fixes a defect of the reference recipe, which writes its manifests
inside the dataset folder and only prints a warning for bad folds.

Each manifest has the columns ``ID,duration,wav,label,target,fold``: ``ID`` is the file name
without extension, ``duration`` is in seconds, ``wav`` is an absolute path, ``label`` is the
category name and ``target`` the integer class index of ``meta/esc50.csv``.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import logging
import numbers
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple, Union

from lmac_brain.atomic import write_text
from lmac_brain.data.files import PathLike
from lmac_brain.data.manifests import (
    SPLITS,
    already_prepared,
    audio_duration,
    check_audio_exists,
    check_save_folder,
    manifest_text,
    read_table,
)

logger = logging.getLogger(__name__)

ESC50_URL = "https://github.com/karoldvl/ESC-50/archive/master.zip"
"""Official ESC-50 archive; everything in it sits under ``ESC-50-master/``."""

NUM_FOLDS = 5
META_COLUMNS = ("filename", "fold", "target", "category")
OPTIONS_FILE = "esc50_prepare.json"


def download_esc50(data_folder: PathLike, url: str = ESC50_URL) -> str:
    """Download the ESC-50 archive into ``data_folder`` and extract it there.

    The archive is fetched with :func:`speechbrain.utils.data_utils.download_file` and unpacked
    into a temporary folder inside ``data_folder``. Its content (the official archive nests it in
    ``ESC-50-master/``) is then moved up so that ``data_folder/meta/esc50.csv`` and
    ``data_folder/audio/`` exist. The archive is removed afterwards.

    Arguments
    ---------
    data_folder : str or os.PathLike
        Folder to fill; created if missing.
    url : str
        ``http(s)://`` or ``file://`` URL of the archive, or a local path (any format
        ``shutil.unpack_archive`` knows: zip, tar, tar.gz, ...).

    Returns
    -------
    str
        Absolute path of ``data_folder``.

    Raises
    ------
    FileNotFoundError
        If a local archive is missing.
    ValueError
        If the archive holds no ``meta/esc50.csv``.

    Example
    -------
    >>> import shutil
    >>> tmp = getfixture("tmpdir")
    >>> src = tmp.mkdir("src").mkdir("ESC-50-master")
    >>> _ = src.mkdir("meta").join("esc50.csv").write("filename,fold,target,category\\n")
    >>> _ = src.mkdir("audio")
    >>> archive = shutil.make_archive(str(tmp / "master"), "zip", str(tmp / "src"))
    >>> folder = download_esc50(tmp / "esc50", url="file://" + archive)
    >>> sorted(os.listdir(folder))
    ['audio', 'meta']
    """
    data_folder = os.path.abspath(os.fspath(data_folder))
    os.makedirs(data_folder, exist_ok=True)
    source = _archive_source(url)
    # A private name, so that a user's own archive in data_folder is never overwritten or removed;
    # the extension is kept because shutil.unpack_archive picks the format from it.
    archive_name = os.path.basename(urllib.parse.urlparse(url).path) or "ESC-50-master.zip"
    archive = os.path.join(data_folder, ".esc50_download_" + archive_name)
    unpack_dir = tempfile.mkdtemp(prefix=".esc50_unpack_", dir=data_folder)
    # Imported here: speechbrain is heavy and only this function needs it.
    from speechbrain.utils.data_utils import download_file

    logger.info("Downloading ESC-50 from %s into %s", url, data_folder)
    try:
        # download_file reports with print(); route that to the log (tqdm's bar stays on stderr).
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            download_file(source, archive, unpack=True, dest_unpack=unpack_dir, replace_existing=True)
        for line in printed.getvalue().splitlines():
            logger.debug("download_file: %s", line)
        root = _find_dataset_root(unpack_dir)
        if root is None:
            raise ValueError(
                f"{url}: the archive holds no meta/esc50.csv (neither at its top level nor in one "
                "sub-folder such as ESC-50-master/). Check the URL; the official archive is "
                f"{ESC50_URL}."
            )
        for name in sorted(os.listdir(root)):
            _move_merge(os.path.join(root, name), os.path.join(data_folder, name))
    finally:
        shutil.rmtree(unpack_dir, ignore_errors=True)
        if os.path.isfile(archive):
            os.remove(archive)
    logger.info("ESC-50 extracted to %s", data_folder)
    return data_folder


def read_esc50_meta(data_folder: PathLike) -> List[Dict[str, object]]:
    """Read ``data_folder/meta/esc50.csv`` as a list of rows.

    Arguments
    ---------
    data_folder : str or os.PathLike
        ESC-50 folder (holding ``meta/`` and ``audio/``).

    Returns
    -------
    list of dict
        One dict per row with all the csv columns as strings, except ``fold`` and ``target``,
        which are ints.

    Raises
    ------
    FileNotFoundError
        If the csv is missing.
    ValueError
        If a required column (filename, fold, target, category) is missing or a fold or target
        is not an integer.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = tmp.mkdir("meta").join("esc50.csv").write(
    ...     "filename,fold,target,category\\n1-100032-A-0.wav,1,0,dog\\n")
    >>> read_esc50_meta(tmp)
    [{'filename': '1-100032-A-0.wav', 'fold': 1, 'target': 0, 'category': 'dog'}]
    """
    meta_path = os.path.join(os.fspath(data_folder), "meta", "esc50.csv")
    table = read_table(
        meta_path,
        META_COLUMNS,
        "ESC-50 metadata not found. Point data_folder at the ESC-50 folder (the one holding meta/ and audio/), "
        "or download it with download_esc50.",
        f"The file must have the official ESC-50 header (at least {', '.join(META_COLUMNS)}).",
    )
    for line, row in enumerate(table, start=2):
        try:
            row["fold"] = int(row["fold"])
            row["target"] = int(row["target"])
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{meta_path}, line {line}: fold and target must be integers, got "
                f"fold={row['fold']!r}, target={row['target']!r}. Repair or re-download the file."
            ) from err
    return table


def prepare_esc50(
    data_folder: PathLike,
    save_folder: PathLike,
    train_folds: Sequence[int] = (1, 2, 3),
    valid_folds: Sequence[int] = (4,),
    test_folds: Sequence[int] = (5,),
    download: bool = True,
    url: str = ESC50_URL,
) -> Dict[str, str]:
    """Write the train/valid/test CSV manifests of ESC-50 into ``save_folder``.

    The ``filename`` column of ``meta/esc50.csv`` names each file in ``audio/``, so both the
    official 44.1 kHz wav release and a resampled copy (e.g. 16 kHz flac with a matching csv)
    work. Manifests are written atomically. If they exist and ``esc50_prepare.json`` in
    ``save_folder`` records the same data folder and folds, nothing is rewritten.

    Arguments
    ---------
    data_folder : str or os.PathLike
        ESC-50 folder holding ``meta/esc50.csv`` and ``audio/``. Never written to, except by the
        download.
    save_folder : str or os.PathLike
        Folder for the manifests (the experiment folder); must not lie inside ``data_folder``.
    train_folds, valid_folds, test_folds : sequence of int
        Folds (1 to 5) of each split; non-empty and pairwise disjoint. The default keeps fold 5
        for testing, unlike the reference, which reports results on its validation fold 4.
    download : bool
        Download ESC-50 into ``data_folder`` if ``meta/esc50.csv`` is missing.
    url : str
        Archive to download (see :func:`download_esc50`).

    Returns
    -------
    dict
        Split name (train, valid, test) -> absolute path of its manifest.

    Raises
    ------
    ValueError
        For bad folds, a save folder inside the data folder, audio files missing or unreadable,
        or duplicated IDs.
    FileNotFoundError
        If ``meta/esc50.csv`` is missing and ``download`` is False.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> data = getfixture("tmpdir").mkdir("esc50")
    >>> audio = data.mkdir("audio")
    >>> lines = ["filename,fold,target,category"]
    >>> for fold in range(1, 6):
    ...     name = f"{fold}-10000{fold}-A-0.flac"
    ...     sf.write(str(audio / name), np.zeros(8000), 16000)
    ...     lines.append(f"{name},{fold},0,dog")
    >>> _ = data.mkdir("meta").join("esc50.csv").write("\\n".join(lines) + "\\n")
    >>> paths = prepare_esc50(data, getfixture("tmpdir") / "exp", download=False)
    >>> print(open(paths["test"]).read().splitlines()[0])
    ID,duration,wav,label,target,fold
    >>> [len(open(paths[s]).readlines()) - 1 for s in ("train", "valid", "test")]
    [3, 1, 1]
    """
    folds = _check_folds({"train": train_folds, "valid": valid_folds, "test": test_folds})
    data_folder = os.path.abspath(os.fspath(data_folder))
    save_folder = os.path.abspath(os.fspath(save_folder))
    check_save_folder(save_folder, data_folder)

    paths = {split: os.path.join(save_folder, f"{split}.csv") for split in SPLITS}
    options = {"data_folder": data_folder, "folds": {s: list(f) for s, f in folds.items()}}
    options_path = os.path.join(save_folder, OPTIONS_FILE)
    if already_prepared(paths, options_path, options):
        logger.info("ESC-50 manifests in %s match %s; skipping preparation.", save_folder, OPTIONS_FILE)
        return paths

    if not os.path.isfile(os.path.join(data_folder, "meta", "esc50.csv")):
        if not download:
            raise FileNotFoundError(
                f"{os.path.join(data_folder, 'meta', 'esc50.csv')}: ESC-50 metadata not found and "
                "download=False. Point data_folder at the ESC-50 folder (holding meta/ and audio/) "
                "or pass download=True."
            )
        download_esc50(data_folder, url=url)
    rows = read_esc50_meta(data_folder)

    entries = {split: _manifest_rows(rows, data_folder, split, fs) for split, fs in folds.items()}
    check_audio_exists(
        [e["wav"] for split_rows in entries.values() for e in split_rows],
        "meta/esc50.csv for the selected folds",
        "Re-download ESC-50 or repair the data folder.",
    )
    all_ids = [e["ID"] for split_rows in entries.values() for e in split_rows]
    if len(set(all_ids)) != len(all_ids):
        dups = sorted(i for i, n in collections.Counter(all_ids).items() if n > 1)
        raise ValueError(
            f"{os.path.join(data_folder, 'meta', 'esc50.csv')}: file names {dups[:5]} appear more "
            "than once (IDs are file names without extension and must be unique). Remove the "
            "duplicated rows."
        )

    os.makedirs(save_folder, exist_ok=True)
    for split in SPLITS:
        for entry in entries[split]:
            entry["duration"] = audio_duration(entry["wav"], "Re-download ESC-50 or replace the file.")
        write_text(paths[split], manifest_text(entries[split]))
        logger.info("Wrote %s (%d clips, folds %s)", paths[split], len(entries[split]), folds[split])
    write_text(options_path, json.dumps(options, indent=2) + "\n")
    return paths


def _archive_source(url: str) -> str:
    """Turn ``url`` into a source that ``download_file`` handles.

    ``download_file`` treats any source containing "http" as a URL for ``urlretrieve`` and anything
    else as a local path, so ``file://`` URLs become plain paths (and local paths that happen to
    contain "http" become ``file://`` URLs, which ``urlretrieve`` reads).
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https"):
        return url
    if parsed.scheme == "file":
        path = urllib.request.url2pathname(parsed.path)
    elif parsed.scheme == "":
        path = url
    else:
        raise ValueError(f"{url}: unsupported URL scheme {parsed.scheme!r}; use http(s)://, file:// or a path.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: archive not found (from url={url!r}). Check the path.")
    path = os.path.abspath(path)
    return Path(path).as_uri() if "http" in path else path


def _find_dataset_root(folder: str) -> Union[str, None]:
    """Return ``folder`` or its single sub-folder holding ``meta/esc50.csv``, else None."""
    if os.path.isfile(os.path.join(folder, "meta", "esc50.csv")):
        return folder
    subdirs = [d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))]
    for sub in sorted(subdirs):
        if os.path.isfile(os.path.join(folder, sub, "meta", "esc50.csv")):
            return os.path.join(folder, sub)
    return None


def _move_merge(src: str, dst: str) -> None:
    """Move ``src`` to ``dst``; folders are merged, files replace existing ones."""
    if os.path.isdir(src) and os.path.isdir(dst):
        for name in os.listdir(src):
            _move_merge(os.path.join(src, name), os.path.join(dst, name))
        os.rmdir(src)
    else:
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.replace(src, dst)


def _check_folds(folds: Dict[str, Iterable[int]]) -> Dict[str, Tuple[int, ...]]:
    """Validate the folds of each split; return them as sorted tuples."""
    checked = {}
    for split, values in folds.items():
        if isinstance(values, (int, str, bytes)):
            raise ValueError(f"{split}_folds must be a list of fold numbers (e.g. [4]), got {values!r}.")
        values = list(values)
        bad = [
            v for v in values if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 1 <= v <= NUM_FOLDS
        ]
        if bad:
            raise ValueError(
                f"{split}_folds={values}: {bad} not valid; ESC-50 folds are the integers 1 to {NUM_FOLDS}."
            )
        if not values:
            raise ValueError(f"{split}_folds is empty; give each split at least one fold (1 to {NUM_FOLDS}).")
        checked[split] = tuple(sorted({int(v) for v in values}))
    for i, first in enumerate(SPLITS):
        for second in SPLITS[i + 1 :]:
            common = sorted(set(checked[first]) & set(checked[second]))
            if common:
                raise ValueError(
                    f"{first}_folds {list(checked[first])} and {second}_folds "
                    f"{list(checked[second])} overlap in fold(s) {common}; splits must be disjoint "
                    "(default: train 1-3, valid 4, test 5)."
                )
    return checked


def _manifest_rows(
    rows: List[Dict[str, object]], data_folder: str, split: str, folds: Tuple[int, ...]
) -> List[Dict[str, object]]:
    """Select the meta rows of ``folds`` as manifest entries (without duration)."""
    entries = [
        {
            "ID": os.path.splitext(str(row["filename"]))[0],
            "wav": os.path.join(data_folder, "audio", str(row["filename"])),
            "label": row["category"],
            "target": row["target"],
            "fold": row["fold"],
        }
        for row in rows
        if row["fold"] in folds
    ]
    if not entries:
        raise ValueError(
            f"{os.path.join(data_folder, 'meta', 'esc50.csv')}: no clips in fold(s) {list(folds)} "
            f"for the {split} split. Check the folds or the metadata file."
        )
    return entries
