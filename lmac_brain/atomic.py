"""Atomic file and folder writes: build beside the target, then rename into place.

An interrupted run never leaves a half-written result: either the old file/folder or the complete new
one is there. Every writer of the project goes through these helpers, and training checkpoints go
through :class:`AtomicCheckpointer`.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import shutil
import tempfile
from typing import Iterator

from speechbrain.utils.checkpoints import CKPT_PREFIX, METAFNAME, Checkpointer


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path`` (same extension); rename it to ``path`` on success.

    Example
    -------
    >>> target = str(getfixture("tmpdir") / "a.txt")
    >>> with atomic_path(target) as tmp:
    ...     _ = open(tmp, "w").write("done")
    >>> open(target).read()
    'done'
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="tmp_", suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results should be readable like any file
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Example
    -------
    >>> target = str(getfixture("tmpdir") / "b.md")
    >>> write_text(target, "# hi")
    >>> open(target).read()
    '# hi'
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)


@contextlib.contextmanager
def atomic_folder(path: str, overwrite: bool = False) -> Iterator[str]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path``.

    Raises ``FileExistsError`` up front if ``path`` exists and ``overwrite`` is False.

    Example
    -------
    >>> target = str(getfixture("tmpdir") / "out")
    >>> with atomic_folder(target) as tmp:
    ...     _ = open(os.path.join(tmp, "x.txt"), "w").write("x")
    >>> os.listdir(target)
    ['x.txt']
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it.")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=parent)
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if os.path.exists(path):
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


PENDING_META = "CKPT.yaml.pending"


class AtomicCheckpointer(Checkpointer):
    """SpeechBrain ``Checkpointer`` whose checkpoints appear only once complete.

    SpeechBrain writes a checkpoint's ``CKPT.yaml`` first and its parameter files after it, and
    recognises a checkpoint folder by its ``CKPT.yaml``; a run killed (``kill -9``) while saving leaves
    a folder that looks like a checkpoint but lacks files (or holds an empty ``CKPT.yaml``), and the
    next start of the same command fails to recover from it. Here ``CKPT.yaml`` is written under a
    pending name and renamed into place after every parameter file is saved, so an interrupted save
    leaves a folder SpeechBrain ignores; such leftovers are removed at the next successful save.

    Example
    -------
    >>> import torch
    >>> tmp = getfixture("tmpdir")
    >>> ckpt = AtomicCheckpointer(str(tmp), {"net": torch.nn.Linear(2, 2)})
    >>> saved = ckpt.save_checkpoint()
    >>> sorted(os.listdir(saved.path))
    ['CKPT.yaml', 'net.ckpt']
    >>> os.makedirs(tmp / "CKPT+interrupted")  # what a killed save leaves (no CKPT.yaml)
    >>> ckpt.find_checkpoint().path == saved.path
    True
    >>> _ = ckpt.save_checkpoint()
    >>> os.path.exists(tmp / "CKPT+interrupted")
    False
    """

    def _save_checkpoint_metafile(self, fpath, meta_to_include={}, end_of_epoch=True):  # noqa: B006 (SpeechBrain's signature)
        return super()._save_checkpoint_metafile(pathlib.Path(fpath).with_name(PENDING_META), meta_to_include, end_of_epoch)

    def save_checkpoint(self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO):  # noqa: B006
        """Save as SpeechBrain does, then publish ``CKPT.yaml`` and remove leftovers of interrupted saves."""
        saved = super().save_checkpoint(meta=meta, end_of_epoch=end_of_epoch, name=name, verbosity=verbosity)
        if saved is not None:  # main process
            os.replace(saved.path / PENDING_META, saved.path / METAFNAME)
            for folder in self.checkpoints_dir.iterdir():
                if folder.is_dir() and folder.name.startswith(CKPT_PREFIX) and not (folder / METAFNAME).exists():
                    shutil.rmtree(folder, ignore_errors=True)
        return saved
