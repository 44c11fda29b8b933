"""The ``savedir`` of an interpreter: a folder the library links files into, never taking over anyone else's.

With a ``savedir``, SpeechBrain links ``hyperparams.yaml`` and one ``<name>.ckpt`` per loaded file into
it. The library records the names it links in ``.lmac_brain_savedir.json`` and refuses
(:class:`SavedirError`) when a file of a needed name exists that it did not create; files it did not
create are never deleted or replaced.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import json
import os
from typing import List, Sequence

from lmac_brain.atomic import write_text

#: Written into a ``savedir``: the files the library created there (the only ones it may replace).
SAVEDIR_MARKER = ".lmac_brain_savedir.json"


class SavedirError(ValueError):
    """Raised when a ``savedir`` holds files of the names the interpreter would link there.

    The message names the folder and the files, and says what to do; nothing in the folder is changed.
    """


def _owned_files(savedir: str) -> List[str]:
    """Names the library recorded as its own in ``savedir`` (none without a marker)."""
    marker = os.path.join(savedir, SAVEDIR_MARKER)
    if not os.path.lexists(marker):
        return []
    try:
        with open(marker, encoding="utf-8") as f:
            record = json.load(f)
        if not isinstance(record, dict) or record.get("lmac_brain_savedir") != 1:
            raise ValueError("not an lmac_brain savedir record")
        return [str(name) for name in record["files"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SavedirError(
            f"{marker}: exists but is not the record lmac_brain writes ({err}); the folder {savedir} was not "
            "prepared by lmac_brain, so nothing in it is replaced. Pass another savedir, or none."
        ) from err


def claim_savedir(savedir: str, source: str, names: Sequence[str]) -> None:
    """Record ``names`` as the library's files in ``savedir``, refusing to take over anyone else's.

    A name may be (re)linked when it is absent from ``savedir`` or was created there by the library
    (listed in :data:`SAVEDIR_MARKER`); any other file of that name belongs to someone else, and
    :class:`SavedirError` is raised before anything is written. Other files are never touched.

    Arguments
    ---------
    savedir : str
        The folder (created if missing).
    source : str
        What is being loaded (recorded for information).
    names : sequence of str
        File names that will be linked into ``savedir``.

    Raises
    ------
    SavedirError
        Naming the folder and the files that are in the way.

    Example
    -------
    >>> d = str(getfixture("tmpdir") / "cache")
    >>> claim_savedir(d, "first", ["hyperparams.yaml"])
    >>> open(os.path.join(d, "hyperparams.yaml"), "w").close()  # (what SpeechBrain links there)
    >>> claim_savedir(d, "second", ["hyperparams.yaml", "decoder.ckpt"])  # the library's own file: fine
    >>> _ = open(os.path.join(d, "notes.txt"), "w").write("mine")
    >>> claim_savedir(d, "third", ["notes.txt"])
    Traceback (most recent call last):
    ...
    lmac_brain.interface.savedir.SavedirError: ...cache already holds notes.txt, which lmac_brain did not create; ...
    """
    owned = _owned_files(savedir) if os.path.isdir(savedir) else []
    in_the_way = [n for n in names if n not in owned and os.path.lexists(os.path.join(savedir, n))]
    if in_the_way:
        raise SavedirError(
            f"savedir {savedir} already holds {', '.join(in_the_way)}, which lmac_brain did not create; loading "
            f"{source} would replace {'it' if len(in_the_way) == 1 else 'them'}. Nothing was changed. Pass a new or "
            "empty folder as savedir, or none (a local folder is then read in place), or move those files."
        )
    os.makedirs(savedir, exist_ok=True)
    files = sorted(set(owned) | set(names))
    write_text(
        os.path.join(savedir, SAVEDIR_MARKER),
        json.dumps({"lmac_brain_savedir": 1, "source": source, "files": files}, indent=2),
    )
