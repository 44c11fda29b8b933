"""Your own labelled audio as train/valid/test manifests, split by the CSV's folds or by a seeded split.

The files come from :mod:`lmac_brain.data.labelled_files` (a ``path,label[,fold]`` CSV or a folder per
class). Splits. With a ``fold`` column, ``valid_folds`` and ``test_folds`` name the validation and test folds
and every other fold trains. Without one, a seeded, stratified split is made: per class, the files
(ordered by their ID) are shuffled with a generator seeded by ``(seed, class)`` and cut by
``split_ratios`` (default 80/10/10): valid and test get ``n * ratio`` files rounded half up, but at
least one each, and training takes the rest. So every class is in every split, and a class needs at
least 3 files. The split depends only on the file names, the classes, the ratios and the seed: not on
the folder the data live in, nor on the other classes.

The manifests have the columns of :mod:`lmac_brain.data.manifests` (``ID,duration,wav,label,target,fold``),
as ESC-50's, so the data pipelines and brains read them unchanged. ``target`` is the class index in
sorted class names; ``fold`` is the CSV's fold, or empty for the seeded split. Like
:func:`~lmac_brain.data.esc50.prepare_esc50`, preparation is skipped when the manifests exist and
``custom_prepare.json`` records the same options and the same file list.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import logging
import math
import os
import random
from typing import Dict, List, Mapping, Sequence, Union

from speechbrain.dataio.encoder import CategoricalEncoder

from lmac_brain.atomic import write_text
from lmac_brain.data.files import PathLike
from lmac_brain.data.labelled_files import LabelledFile, list_labelled_files
from lmac_brain.data.manifests import SPLITS, already_prepared, audio_duration, check_save_folder, manifest_text

logger = logging.getLogger(__name__)

Folds = Union[None, int, str, Sequence[Union[int, str]]]

DEFAULT_SPLIT_RATIOS = (0.8, 0.1, 0.1)
OPTIONS_FILE = "custom_prepare.json"


def stratified_split(
    files: Sequence[LabelledFile], split_ratios: Sequence[float] = DEFAULT_SPLIT_RATIOS, seed: int = 1234
) -> Dict[str, List[LabelledFile]]:
    """Seeded per-class split into train/valid/test (rule in the module docstring).

    Arguments
    ---------
    files : sequence of LabelledFile
        The dataset.
    split_ratios : (float, float, float)
        Train, valid and test shares; positive, summing to 1.
    seed : int
        Seed of the shuffles.

    Returns
    -------
    dict
        ``{"train", "valid", "test"}`` -> files sorted by ID.

    Raises
    ------
    ValueError
        For bad ratios, or a class too small to put a file in each split and one in training.

    Example
    -------
    >>> files = [LabelledFile(f"{c}{i}", f"/{c}{i}.wav", c, None) for c in "ab" for i in range(10)]
    >>> split = stratified_split(files, (0.8, 0.1, 0.1), seed=0)
    >>> {s: len(v) for s, v in split.items()}
    {'train': 16, 'valid': 2, 'test': 2}
    >>> sorted(f.label for f in split["test"])
    ['a', 'b']
    """
    ratios = _check_ratios(split_ratios)
    by_class = collections.defaultdict(list)
    for f in files:
        by_class[f.label].append(f)
    split = {s: [] for s in SPLITS}
    for label in sorted(by_class):
        members = sorted(by_class[label], key=lambda f: f.id)
        n = len(members)
        n_valid, n_test = (max(1, math.floor(n * r + 0.5)) for r in ratios[1:])
        if n - n_valid - n_test < 1:
            raise ValueError(
                f"Class {label!r} has {n} file(s), too few for split_ratios {list(ratios)}: the seeded split "
                f"puts at least one file of every class in valid and in test and keeps at least one for "
                f"training (here {n_valid} + {n_test} + 1 = {n_valid + n_test + 1} files). Add recordings, "
                "merge or drop the class, or give your own folds in a CSV fold column."
            )
        random.Random(f"{seed}:{label}").shuffle(members)
        split["valid"] += members[:n_valid]
        split["test"] += members[n_valid : n_valid + n_test]
        split["train"] += members[n_valid + n_test :]
    return {s: sorted(v, key=lambda f: f.id) for s, v in split.items()}


def fold_split(files: Sequence[LabelledFile], valid_folds: Folds, test_folds: Folds) -> Dict[str, List[LabelledFile]]:
    """Split by the CSV's fold column: ``valid_folds`` validate, ``test_folds`` test, the others train.

    Folds are compared as text, so ``4`` (from YAML) matches the CSV token ``4``; a single fold or a
    list of folds is accepted.

    Raises
    ------
    ValueError
        If the folds are empty, overlap, are not in the CSV, leave nothing to train on, or a class has
        no training file.

    Example
    -------
    >>> files = [LabelledFile(f"{c}{k}", f"/{c}{k}.wav", c, str(k)) for c in "ab" for k in (1, 2, 3, 4)]
    >>> split = fold_split(files, valid_folds=3, test_folds=[4])
    >>> {s: [f.id for f in v] for s, v in split.items()}
    {'train': ['a1', 'a2', 'b1', 'b2'], 'valid': ['a3', 'b3'], 'test': ['a4', 'b4']}
    """
    chosen = {"valid": _fold_set(valid_folds, "valid_folds"), "test": _fold_set(test_folds, "test_folds")}
    if chosen["valid"] & chosen["test"]:
        raise ValueError(
            f"valid_folds {sorted(chosen['valid'])} and test_folds {sorted(chosen['test'])} overlap in "
            f"{sorted(chosen['valid'] & chosen['test'])}; validation and test folds must differ."
        )
    present = {f.fold for f in files}
    unknown = sorted((chosen["valid"] | chosen["test"]) - present)
    if unknown:
        raise ValueError(f"Fold(s) {unknown} are not in the CSV's fold column; it has folds {sorted(present)}.")
    split = {
        "train": [f for f in files if f.fold not in chosen["valid"] | chosen["test"]],
        "valid": [f for f in files if f.fold in chosen["valid"]],
        "test": [f for f in files if f.fold in chosen["test"]],
    }
    if not split["train"]:
        raise ValueError(
            f"valid_folds and test_folds take every fold of the CSV ({sorted(present)}); leave at least one "
            "fold for training."
        )
    untrained = sorted({f.label for f in files} - {f.label for f in split["train"]})
    if untrained:
        raise ValueError(
            f"Class(es) {untrained} have no file in the training folds; the classifier cannot learn them. "
            "Move some of their files to a training fold or choose other valid/test folds."
        )
    return {s: sorted(v, key=lambda f: f.id) for s, v in split.items()}


def prepare_custom_dataset(
    data: PathLike,
    save_folder: PathLike,
    valid_folds: Folds = None,
    test_folds: Folds = None,
    split_ratios: Sequence[float] = DEFAULT_SPLIT_RATIOS,
    seed: int = 1234,
) -> Dict[str, str]:
    """Write train/valid/test manifests of a custom dataset (CSV or folder per class) into ``save_folder``.

    Arguments
    ---------
    data : str or os.PathLike
        A ``path,label[,fold]`` CSV file, or a folder with one sub-folder per class. Only read.
    save_folder : str or os.PathLike
        Folder for the manifests (the experiment folder); for a class-folder tree it must not lie
        inside ``data`` (it would be taken for a class).
    valid_folds, test_folds : fold, list of folds or None
        Required when the CSV has a ``fold`` column, not allowed otherwise.
    split_ratios : (float, float, float)
        Train/valid/test shares of the seeded split (without a ``fold`` column).
    seed : int
        Seed of the seeded split.

    Returns
    -------
    dict
        ``{"train": path, "valid": path, "test": path}``, absolute paths of the manifests.

    Raises
    ------
    FileNotFoundError
        If ``data`` does not exist.
    ValueError
        For the layout errors of :func:`read_labelled_csv`, :func:`scan_class_folders`,
        :func:`stratified_split` and :func:`fold_split`, folds given for data without folds (or
        missing for a CSV with folds), a save folder inside the data folder, and unreadable or empty
        audio files.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> tmp = getfixture("tmpdir")
    >>> root = tmp.mkdir("sounds")
    >>> for label in ("dog", "rain"):
    ...     _ = root.mkdir(label)
    ...     for i in range(5):
    ...         sf.write(str(root / label / f"{i}.wav"), np.zeros(1600), 16000)
    >>> paths = prepare_custom_dataset(root, tmp / "exp")
    >>> print(open(paths["train"]).read().splitlines()[0])
    ID,duration,wav,label,target,fold
    >>> [len(open(paths[s]).readlines()) - 1 for s in ("train", "valid", "test")]
    [6, 2, 2]
    """
    data = os.path.abspath(os.fspath(data))
    save_folder = os.path.abspath(os.fspath(save_folder))
    if not os.path.exists(data):
        raise FileNotFoundError(
            f"{data}: not found. Give a CSV file (path,label[,fold]) or a folder with one sub-folder per class."
        )
    if os.path.isdir(data):
        check_save_folder(save_folder, data)  # every sub-folder of a class-folder tree is a class
    files = list_labelled_files(data)
    has_folds = files[0].fold is not None
    if has_folds and (valid_folds is None or test_folds is None):
        raise ValueError(
            f"{data} has a fold column: choose the validation and test folds (e.g. --valid_folds [4] "
            "--test_folds [5]; the other folds train), or drop the column to get the seeded split."
        )
    if not has_folds and (valid_folds is not None or test_folds is not None):
        raise ValueError(
            f"valid_folds/test_folds are set but {data} has no folds (only a CSV with a fold column has). "
            "Leave them null for the seeded split by split_ratios, or add a fold column."
        )

    if has_folds:
        split_opts = {
            "valid_folds": sorted(_fold_set(valid_folds, "valid_folds")),
            "test_folds": sorted(_fold_set(test_folds, "test_folds")),
        }
    else:
        split_opts = {"split_ratios": list(_check_ratios(split_ratios)), "seed": int(seed)}
    options = {"data": data, **split_opts, "files": _fingerprint(files)}
    paths = {split: os.path.join(save_folder, f"{split}.csv") for split in SPLITS}
    options_path = os.path.join(save_folder, OPTIONS_FILE)
    if already_prepared(paths, options_path, options):
        logger.info("Manifests in %s match %s; skipping preparation.", save_folder, OPTIONS_FILE)
        return paths

    if has_folds:
        split = fold_split(files, valid_folds, test_folds)
    else:
        split = stratified_split(files, split_ratios, seed)
    target = {label: i for i, label in enumerate(sorted({f.label for f in files}))}
    os.makedirs(save_folder, exist_ok=True)
    for name in SPLITS:
        entries = [
            {
                "ID": f.id,
                "duration": audio_duration(f.wav, "Convert it (e.g. to wav) or remove it."),
                "wav": f.wav,
                "label": f.label,
                "target": target[f.label],
                "fold": f.fold or "",
            }
            for f in split[name]
        ]
        write_text(paths[name], manifest_text(entries))
        counts = collections.Counter(f.label for f in split[name])
        logger.info("Wrote %s (%d files: %s)", paths[name], len(entries), dict(sorted(counts.items())))
    write_text(options_path, json.dumps(options, indent=2) + "\n")
    return paths


def split_description(valid_folds: Folds, test_folds: Folds, split_ratios: Sequence[float], seed: int) -> str:
    """One line saying how the data were split (for metrics files and model cards).

    Example
    -------
    >>> split_description(None, None, [0.8, 0.1, 0.1], 1234)
    'seeded stratified split per class, train/valid/test 0.8/0.1/0.1, seed 1234'
    >>> split_description([4], 5, [0.8, 0.1, 0.1], 1234)
    "CSV folds: valid ['4'], test ['5'], train the other folds"
    """
    if valid_folds is None and test_folds is None:
        shares = "/".join(f"{r:g}" for r in split_ratios)
        return f"seeded stratified split per class, train/valid/test {shares}, seed {seed}"
    return (
        f"CSV folds: valid {sorted(_fold_set(valid_folds, 'valid_folds'))}, "
        f"test {sorted(_fold_set(test_folds, 'test_folds'))}, train the other folds"
    )


def manifest_classes(manifests: Mapping[str, str]) -> List[str]:
    """Sorted class names found in the ``label`` column of the manifests.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "a.csv").write("ID,label\\nx,rain\\ny,dog\\n")
    >>> manifest_classes({"train": str(tmp / "a.csv")})
    ['dog', 'rain']
    """
    labels = set()
    for path in manifests.values():
        with open(path, newline="", encoding="utf-8") as f:
            labels.update(row["label"] for row in csv.DictReader(f))
    return sorted(labels)


def check_classifier_classes(label_encoder_file: str, manifests: Mapping[str, str], classifier_source: str) -> None:
    """Raise a clear error unless the classifier's classes are exactly the classes of the data.

    Arguments
    ---------
    label_encoder_file : str
        The classifier's label encoder (``label_encoder.txt`` or the ``Pretrainer``'s collected copy).
    manifests : mapping
        Split -> manifest of the data to explain.
    classifier_source : str
        Where the classifier came from (named in the error).

    Raises
    ------
    ValueError
        If the class sets differ.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> enc = tmp / "label_encoder.txt"
    >>> _ = enc.write("'dog' => 0\\n'rain' => 1\\n================\\n'starting_index' => 0\\n")
    >>> _ = (tmp / "train.csv").write("ID,label\\nx,rain\\ny,dog\\n")
    >>> check_classifier_classes(str(enc), {"train": str(tmp / "train.csv")}, "clf/")
    >>> _ = (tmp / "test.csv").write("ID,label\\nz,wind\\n")
    >>> try:
    ...     check_classifier_classes(str(enc), {"test": str(tmp / "test.csv")}, "clf/")
    ... except ValueError as err:
    ...     print(str(err).split(" (")[0])
    The classifier from clf/ knows the classes ['dog', 'rain'] but the data have ['wind']
    """
    encoder = CategoricalEncoder()
    encoder.load(label_encoder_file)
    known, data = sorted(encoder.lab2ind), manifest_classes(manifests)
    if known != data:
        raise ValueError(
            f"The classifier from {classifier_source} knows the classes {known} but the data have {data} "
            f"(only in the data: {sorted(set(data) - set(known))}; only in the classifier: "
            f"{sorted(set(known) - set(data))}). L-MAC explains a classifier of these classes: fine-tune "
            "one on this data first (recipes/custom/interpret/train_classifier.py) and pass its export "
            "folder as classifier_source."
        )


def _fold_set(folds: Folds, name: str) -> set:
    """Folds as a non-empty set of text tokens."""
    values = [folds] if isinstance(folds, (int, str)) else list(folds or [])
    tokens = {str(v).strip() for v in values}
    if not tokens or "" in tokens:
        raise ValueError(f"{name}={folds!r}: give at least one fold of the CSV's fold column, e.g. [4].")
    return tokens


def _check_ratios(split_ratios: Sequence[float]) -> tuple:
    """Validate train/valid/test shares: three positive numbers summing to 1."""
    ratios = tuple(float(r) for r in split_ratios)
    if len(ratios) != 3 or not all(r > 0 for r in ratios) or not math.isclose(sum(ratios), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"split_ratios={list(split_ratios)}: give three positive train/valid/test shares that sum to 1, "
            "e.g. [0.8, 0.1, 0.1]."
        )
    return ratios


def _fingerprint(files: Sequence[LabelledFile]) -> str:
    """SHA-1 of the file list (ID, label, fold, path, size): changes when files are added, removed or replaced."""
    digest = hashlib.sha1()
    for f in sorted(files, key=lambda f: f.id):
        digest.update(f"{f.id}\t{f.label}\t{f.fold}\t{f.wav}\t{os.path.getsize(f.wav)}\n".encode("utf-8"))
    return digest.hexdigest()
