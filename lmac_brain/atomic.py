"""Atomic file and folder writes: build beside the target, then rename into place.

An interrupted run never leaves a half-written result: either the old file/folder or the complete new
one is there. Every writer of the project goes through these helpers (training checkpoints through
:class:`lmac_brain.training.checkpointer.AtomicCheckpointer`).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import Iterator, List


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


@contextlib.contextmanager
def all_or_none(written: List[str]) -> Iterator[List[str]]:
    """Yield ``written``, the list of files a group of writes appends to as it goes; if the group fails, remove
    them (those that exist) and re-raise: the group leaves all its files or none.

    Example
    -------
    >>> target = str(getfixture("tmpdir") / "part.txt")
    >>> try:
    ...     with all_or_none([]) as written:
    ...         write_text(target, "first")
    ...         written.append(target)
    ...         raise OSError("disk full")
    ... except OSError:
    ...     pass
    >>> os.path.exists(target)
    False
    """
    try:
        yield written
    except BaseException:
        for path in written:
            if os.path.exists(path):
                os.remove(path)
        raise


def save_figure(fig, path: str, dpi: int) -> str:
    """Save a matplotlib figure as PNG atomically and close it (also when saving fails); returns ``path``.

    Example
    -------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> target = str(getfixture("tmpdir") / "f.png")
    >>> save_figure(plt.figure(figsize=(1, 1)), target, 50) == target and os.path.getsize(target) > 0
    True
    """
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return path
