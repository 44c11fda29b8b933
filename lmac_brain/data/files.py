"""Finding audio files: the one list of formats and the one folder listing of the project.

Every place that looks for audio in a folder (``lmac explain DIR``, noise folders, the speech and noise
folders of the evaluation sets, class folders of your own data) uses :func:`list_audio_files`, so that a
file found by one is found by all. The formats are those :func:`lmac_brain.data.audio.load_audio` decodes
through soundfile (libsndfile >= 1.1 reads mp3).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
from typing import List, Union

PathLike = Union[str, "os.PathLike[str]"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
"""File endings (case-insensitive) that count as audio everywhere in the project."""


def is_audio_file(path: PathLike) -> bool:
    """True for a non-hidden file name ending in one of :data:`AUDIO_EXTENSIONS` (any case).

    Example
    -------
    >>> [is_audio_file(n) for n in ("a.WAV", "b.mp3", "c.aif", "notes.txt", "._d.wav")]
    [True, True, True, False, False]
    """
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS)


def list_audio_files(folder: PathLike, kind: str = "audio") -> List[str]:
    """Audio files under ``folder`` (recursive), sorted by their path relative to ``folder``.

    Hidden files and folders (names starting with ``.``) are skipped. The order uses ``/`` as separator
    whatever the platform, so it is the same on every machine (a noise folder's order decides which noise
    a seeded mixer draws).

    Arguments
    ---------
    folder : str or os.PathLike
        The folder to search.
    kind : str
        What the files are (``"audio"``, ``"noise"``, ``"speech"``, ...), for the error messages.

    Returns
    -------
    list of str
        Paths (``folder`` joined with the relative path).

    Raises
    ------
    FileNotFoundError
        If ``folder`` is not a folder.
    ValueError
        If it holds no audio file.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> root = getfixture("tmpdir")
    >>> _ = root.mkdir("sub")
    >>> for name in ("b.wav", "sub/a.mp3", "A.aiff", "notes.txt"):
    ...     sf.write(str(root / name), np.zeros(800), 16000) if name != "notes.txt" else (root / name).write("x")
    >>> [os.path.relpath(p, root) for p in list_audio_files(root)]
    ['A.aiff', 'b.wav', 'sub/a.mp3']
    >>> list_audio_files(root / "sub" / "missing", kind="noise")
    Traceback (most recent call last):
    ...
    FileNotFoundError: .../missing: noise folder not found.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: {kind} folder not found.")
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if is_audio_file(name):
                path = os.path.join(root, name)
                found.append((os.path.relpath(path, folder).replace(os.sep, "/"), path))
    if not found:
        raise ValueError(f"{folder}: no {kind} files ({', '.join(AUDIO_EXTENSIONS)}) found in it or its sub-folders.")
    return [path for _, path in sorted(found)]
