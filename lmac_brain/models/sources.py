"""Model sources (a local folder or file, or a hub id) checked before SpeechBrain fetches them.

Every option that names a model -- ``classifier_source``, ``pretrained_source``, ``decoder_init``,
``gate_init``, ``decoder_ckpt``, the paths of a ``Pretrainer``, ``LMACInterpreter.from_hparams(source=...)``,
``lmac explain --source`` -- takes a local path or a hub id. SpeechBrain's ``fetch`` reads a source as
local only if the folder exists, as a URL if it starts with ``http:``/``https:``, and as a hub id
otherwise, so a mistyped path (``results/finetune_classifier_cpu/1234/classifier``) reaches
``huggingface_hub`` and dies with ``HFValidationError: Repo id must be in the form ...``, or with an
authentication error for a missing repository. :func:`check_source` decides first.

The rule (:func:`is_hub_id`): a source is a **hub id** only if it has exactly the form ``owner/name``
-- one ``/``, each part 1 to 96 of the characters the hub allows (letters, digits, ``-``, ``_``,
``.``), neither starting nor ending with ``-`` or ``.``, no ``--`` or ``..``, not ending in ``.git``
-- and no folder ``owner`` exists (relative to the working directory). A source starting with
``http:`` or ``https:`` is a **URL**. Everything else is a **local path**: absolute paths, paths
starting with ``./``, ``../`` or ``~``, paths with more than one ``/`` or with ``\\``, a bare name
without ``/`` (the projects' sources are always ``owner/name`` on the hub), and ``owner/name`` when
``owner`` is a folder here (``pretrained/lmac_cnn14_cpu_esc5``). A local path must exist (a folder,
or a file for checkpoint options); otherwise :class:`SourceNotFoundError` names the path, the
deepest part of it that exists and what that folder holds, and what to give instead. Hub ids and
URLs are returned untouched for SpeechBrain's fetch. For a file source (``owner/name/decoder.ckpt``)
the rule applies to the folder part, as SpeechBrain's ``split_path`` splits it.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import difflib
import os
import re
from typing import MutableMapping, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]

#: What SpeechBrain's fetch downloads as a URL.
URL_PREFIXES = ("http:", "https:")

#: One part of a hub id (``owner`` or ``name``), as ``huggingface_hub.utils.validate_repo_id`` accepts it.
_HUB_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")

#: At most this many entries of the deepest existing folder are listed in the message.
_LISTED = 8


class SourceNotFoundError(FileNotFoundError):
    """A local model source (folder or file) that does not exist, or is a file where a folder is needed
    (or the reverse).

    The message names the path, says what is missing and what to give instead.
    """


def is_url(source: PathLike) -> bool:
    """Whether SpeechBrain's fetch downloads ``source`` as a URL (``http:`` or ``https:``).

    Example
    -------
    >>> is_url("https://example.org/decoder.ckpt"), is_url("results/decoder.ckpt")
    (True, False)
    """
    return os.fspath(source).startswith(URL_PREFIXES)


def is_hub_id(source: PathLike) -> bool:
    """Whether ``source`` is a hub id (``owner/name``) rather than a local path; see the module docstring.

    Arguments
    ---------
    source : str or os.PathLike
        What an option or argument was given.

    Returns
    -------
    bool
        True for ``owner/name`` in the hub's characters when no folder ``owner`` exists here.

    Example
    -------
    >>> is_hub_id("speechbrain/cnn14-esc50")
    True
    >>> [is_hub_id(s) for s in ("results/clf/1234/classifier", "./clf", "~/clf", "/tmp/clf", "clf", "a--b/c")]
    [False, False, False, False, False, False]
    >>> import os
    >>> os.makedirs(getfixture("tmpdir") / "owner")
    >>> getfixture("monkeypatch").chdir(getfixture("tmpdir"))
    >>> is_hub_id("owner/model")  # owner is a folder here: a (mistyped) path
    False
    """
    source = os.fspath(source)
    parts = source.split("/")
    if len(parts) != 2 or not all(_HUB_PART.fullmatch(p) for p in parts):
        return False
    if "--" in source or ".." in source or source.endswith(".git"):
        return False
    return not os.path.isdir(parts[0])


def _what_is_missing(path: str) -> str:
    """Which part of ``path`` is missing: the deepest existing folder above it, and what it holds
    (close names first; hidden entries are not listed).

    Example
    -------
    >>> folder = getfixture("tmpdir")
    >>> for name in ("classifier", "save"):
    ...     _ = (folder / name).mkdir()
    >>> print(_what_is_missing(str(folder / "1234" / "classifier")).replace(str(folder), "F"))
    F has no 1234; it holds: classifier, save
    >>> print(_what_is_missing(str(folder / "classifer")).replace(str(folder), "F"))
    F has no classifer; did you mean classifier?
    """
    path = os.path.abspath(path)
    missing, parent = os.path.basename(path), os.path.dirname(path)
    while parent != os.path.dirname(parent) and not os.path.exists(parent):
        missing, parent = os.path.basename(parent), os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"{parent} is a file, not a folder"
    try:
        entries = sorted(e for e in os.listdir(parent) if not e.startswith("."))
    except OSError:  # unreadable folder
        return f"{parent} has no {missing}"
    close = difflib.get_close_matches(missing, entries, n=3, cutoff=0.8)  # one or two characters off
    if close:
        return f"{parent} has no {missing}; did you mean {' or '.join(close)}?"
    if not entries:
        return f"{parent} has no {missing}; it is empty"
    listed = ", ".join(entries[:_LISTED]) + (f", ... ({len(entries)} entries)" if len(entries) > _LISTED else "")
    return f"{parent} has no {missing}; it holds: {listed}"


def check_source(
    source: PathLike,
    what: str = "model folder",
    *,
    option: Optional[str] = None,
    file: bool = False,
    hint: str = "",
) -> str:
    """Return ``source`` if it is a hub id, a URL or an existing local folder (file); raise otherwise.

    The one check every model option and argument goes through before SpeechBrain's fetch (the rule
    that tells a local path from a hub id is in the module docstring).

    Arguments
    ---------
    source : str or os.PathLike
        A folder or hub id (``file=False``), or a file path, URL or hub path ``owner/name/FILE`` (``file=True``).
    what : str
        What the source is, for the message (``"classifier folder"``, ``"decoder checkpoint"``).
    option : str, optional
        The option or argument that was given ``source`` (``"--decoder_init"``), named in the advice.
    file : bool
        True if ``source`` names a file (a checkpoint) rather than a folder.
    hint : str
        A sentence added at the end of the message.

    Returns
    -------
    str
        ``source`` as a string: unchanged for a hub id or URL; a local path with a leading ``~``
        expanded (SpeechBrain's fetch does not expand it, and would take ``~/...`` for a hub id).

    Raises
    ------
    SourceNotFoundError
        ``source`` is a local path that does not exist, or a file where a folder is needed (or the reverse).

    Example
    -------
    >>> check_source("speechbrain/cnn14-esc50")  # a hub id: left to SpeechBrain's fetch
    'speechbrain/cnn14-esc50'
    >>> check_source("speechbrain/cnn14-esc50/classifier.ckpt", file=True)
    'speechbrain/cnn14-esc50/classifier.ckpt'
    >>> folder = getfixture("tmpdir")
    >>> _ = (folder / "classifier").mkdir()
    >>> check_source(str(folder / "1234" / "classifier"), "classifier folder", option="--classifier_source")
    Traceback (most recent call last):
    ...
    lmac_brain.models.sources.SourceNotFoundError: ...1234/classifier: classifier folder not found (... has no 1234; ...
    """
    source = os.fspath(source)
    if is_url(source):
        return source
    if file:
        folder = source.rsplit("/", 1)[0] if "/" in source else ""
        if is_hub_id(folder):
            return source
    elif is_hub_id(source):
        return source
    path = os.path.expanduser(source)
    kind, advice = (
        ("file", "an existing file, or a hub path owner/name/FILE")
        if file
        else ("folder", "an existing folder, or a hub id of the form owner/name")
    )
    give = f"Give {option} {advice}." if option else f"Give {advice}."
    if file and os.path.isdir(path):
        problem = f"is a folder; {what} must be a file"
    elif not file and os.path.isfile(path):
        problem = f"is a file; {what} must be a folder"
    elif os.path.exists(path):
        return path
    else:
        problem = f"{what} not found ({_what_is_missing(path)})"
        owner = source.split("/")[0]
        if source.count("/") == 1 and _HUB_PART.fullmatch(owner) and os.path.isdir(owner):
            problem += f"; {owner} is a folder here, so this is a path, not a hub id (for the hub, run elsewhere)"
    raise SourceNotFoundError(f"{source}: {problem}. {give}{' ' + hint if hint else ''}")


def check_pretrainer_paths(pretrainer, what: str = "checkpoint") -> None:
    """Check every path of a SpeechBrain ``Pretrainer`` with :func:`check_source` (as files) before it collects them.

    A local path starting with ``~`` is replaced by its expansion in ``pretrainer.paths``.

    Arguments
    ---------
    pretrainer : speechbrain.utils.parameter_transfer.Pretrainer
        Its ``paths`` (name -> local file, URL or hub path) are checked; ``FetchSource`` entries are skipped.
    what : str
        What the files are, for the message (each entry's name is added).

    Raises
    ------
    SourceNotFoundError
        For the first local path that does not exist.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> check_pretrainer_paths(SimpleNamespace(paths={"head": "speechbrain/cnn14-esc50/classifier.ckpt"}))
    >>> check_pretrainer_paths(SimpleNamespace(paths={"decoder": "results/cond/c37/decoder.ckpt"}), "decoder_init")
    Traceback (most recent call last):
    ...
    lmac_brain.models.sources.SourceNotFoundError: results/cond/c37/decoder.ckpt: decoder_init (decoder) not found ...
    """
    paths: MutableMapping[str, object] = pretrainer.paths
    for name, path in list(paths.items()):
        if isinstance(path, (str, os.PathLike)):
            paths[name] = check_source(path, f"{what} ({name})", file=True)
