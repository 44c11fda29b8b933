"""Manifests: the CSV lists of audio items that every data source writes and every data pipeline reads.

ESC-50 (:mod:`lmac_brain.data.esc50`) and your own data (:mod:`lmac_brain.data.custom_data`) write the
same columns through these helpers, with the same checks: audio that is missing or unreadable is named
before anything is written, manifests go to the experiment folder (never into the data folder), and a
preparation whose options have not changed is skipped.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence

import soundfile as sf

SPLITS = ("train", "valid", "test")
MANIFEST_COLUMNS = ("ID", "duration", "wav", "label", "target", "fold")


class MissingAudioError(FileNotFoundError, ValueError):
    """Audio files named by a manifest, a CSV list or a metadata file do not exist (one error names them all)."""


def check_audio_exists(
    paths: Sequence[str],
    where: str,
    advice: str,
    describe: Optional[Callable[[str], str]] = None,
    max_listed: int = 5,
) -> None:
    """Raise :class:`MissingAudioError` naming (up to ``max_listed`` of) the ``paths`` that are not files.

    Arguments
    ---------
    paths : sequence of str
        The audio files (repeats are counted once).
    where : str
        What lists them, for the message ("meta/esc50.csv for the selected folds").
    advice : str
        What to do about it, the message's last line.
    describe : callable, optional
        Path -> how to name it in the message (default: the path).
    max_listed : int
        How many missing files the message names.

    Example
    -------
    >>> check_audio_exists(["/no/such/a.wav", "/no/such/a.wav"], "list.csv", "Fix the paths.")
    Traceback (most recent call last):
    ...
    lmac_brain.data.manifests.MissingAudioError: 1 of the 1 audio files named in list.csv are missing:
      /no/such/a.wav
    Fix the paths.
    """
    unique = list(dict.fromkeys(paths))
    missing = [p for p in unique if not os.path.isfile(p)]
    if missing:
        name = describe or (lambda p: p)
        shown = "\n  ".join(name(p) for p in missing[:max_listed])
        more = f"\n  ... and {len(missing) - max_listed} more" if len(missing) > max_listed else ""
        raise MissingAudioError(
            f"{len(missing)} of the {len(unique)} audio files named in {where} are missing:\n  {shown}{more}\n{advice}"
        )


def audio_duration(path: str, advice: str) -> float:
    """Duration in seconds from the file header; a ValueError (with ``advice``) for an unreadable or empty file.

    Example
    -------
    >>> import numpy as np
    >>> wav = str(getfixture("tmpdir") / "a.wav")
    >>> sf.write(wav, np.zeros(800), 16000)
    >>> audio_duration(wav, "Replace it.")
    0.05
    >>> sf.write(wav, np.zeros(0), 16000)
    >>> audio_duration(wav, "Remove it.")
    Traceback (most recent call last):
    ...
    ValueError: ...a.wav: the audio file is empty (0 samples). Remove it.
    """
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise ValueError(f"{path}: not a readable audio file ({err}). {advice}") from err
    if info.frames == 0:
        raise ValueError(f"{path}: the audio file is empty (0 samples). {advice}")
    return info.frames / info.samplerate


def check_save_folder(save_folder: str, data_folder: str) -> None:
    """Refuse a ``save_folder`` that is ``data_folder`` or inside it: manifests never go into the data.

    Example
    -------
    >>> check_save_folder("/data/esc50/save", "/data/esc50")
    Traceback (most recent call last):
    ...
    ValueError: save_folder /data/esc50/save lies inside the data folder /data/esc50. ...
    """
    data_real, save_real = Path(data_folder).resolve(), Path(save_folder).resolve()
    if save_real == data_real or data_real in save_real.parents:
        raise ValueError(
            f"save_folder {save_folder} lies inside the data folder {data_folder}. Manifests are written to "
            "the experiment folder, never into the data folder; pass an experiment folder (e.g. "
            "results/<name>/save) as save_folder."
        )


def read_table(path: str, columns: Sequence[str], not_found: str, header_advice: str) -> List[Dict[str, str]]:
    """Rows of the CSV file ``path``, whose header must hold ``columns``.

    Raises ``FileNotFoundError`` (``"<path>: <not_found>"``) for a missing file and ``ValueError``
    naming the missing columns (then ``header_advice``) for a wrong header.

    Example
    -------
    >>> table = getfixture("tmpdir") / "t.csv"
    >>> _ = table.write("ID,wav\\na,/d/a.wav\\n")
    >>> read_table(str(table), ["wav"], "not found.", "")
    [{'ID': 'a', 'wav': '/d/a.wav'}]
    >>> read_table(str(table), ["label"], "not found.", "Add it.")
    Traceback (most recent call last):
    ...
    ValueError: ...t.csv: missing column(s) ['label']; found ['ID', 'wav']. Add it.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {not_found}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}. {header_advice}")
        return list(reader)


def manifest_text(entries: List[Dict[str, object]]) -> str:
    """Manifest entries as CSV text with the header ``MANIFEST_COLUMNS``.

    Example
    -------
    >>> print(manifest_text([{"ID": "a", "duration": 5.0, "wav": "/d/a.wav", "label": "dog", "target": 0, "fold": 1}]))
    ID,duration,wav,label,target,fold
    a,5.0,/d/a.wav,dog,0,1
    <BLANKLINE>
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(entries)
    return buffer.getvalue()


def already_prepared(paths: Mapping[str, str], options_path: str, options: dict) -> bool:
    """True if every manifest exists and the options saved in ``options_path`` equal ``options``.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> paths = {"train": str(tmp / "train.csv")}
    >>> already_prepared(paths, str(tmp / "opts.json"), {"seed": 1})
    False
    """
    if not all(os.path.isfile(p) for p in paths.values()) or not os.path.isfile(options_path):
        return False
    try:
        with open(options_path, encoding="utf-8") as f:
            return json.load(f) == options
    except (OSError, ValueError):
        return False
