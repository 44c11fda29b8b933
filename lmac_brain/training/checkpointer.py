"""The training checkpointer: SpeechBrain's ``Checkpointer`` whose checkpoints appear only once complete.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil

from speechbrain.utils.checkpoints import CKPT_PREFIX, METAFNAME, Checkpointer
from speechbrain.utils.distributed import ddp_barrier

PENDING_META = "CKPT.yaml.pending"


class AtomicCheckpointer(Checkpointer):
    """SpeechBrain ``Checkpointer`` whose checkpoints appear only once complete.

    SpeechBrain writes a checkpoint's ``CKPT.yaml`` first and its parameter files after it, and
    recognises a checkpoint folder by its ``CKPT.yaml``; a run killed (``kill -9``) while saving leaves
    a folder that looks like a checkpoint but lacks files (or holds an empty ``CKPT.yaml``), and the
    next start of the same command fails to recover from it. Here ``CKPT.yaml`` is written under a
    pending name and renamed into place after every parameter file is saved, so an interrupted save
    leaves a folder SpeechBrain ignores; such leftovers are removed at the next successful save.

    Under DDP every rank waits until the main process has published ``CKPT.yaml``: SpeechBrain's
    ``save_and_keep_only`` lets each rank list the checkpoints to delete, and a rank that listed them
    before the rename would see one checkpoint fewer than the main process and wait at another
    collective than it (a deadlock).

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
        return super()._save_checkpoint_metafile(
            pathlib.Path(fpath).with_name(PENDING_META), meta_to_include, end_of_epoch
        )

    def save_checkpoint(self, meta={}, end_of_epoch=True, name=None, verbosity=logging.INFO):  # noqa: B006
        """Save as SpeechBrain does, then publish ``CKPT.yaml`` and remove leftovers of interrupted saves."""
        saved = super().save_checkpoint(meta=meta, end_of_epoch=end_of_epoch, name=name, verbosity=verbosity)
        if saved is not None:  # main process
            os.replace(saved.path / PENDING_META, saved.path / METAFNAME)
            for folder in self.checkpoints_dir.iterdir():
                if folder.is_dir() and folder.name.startswith(CKPT_PREFIX) and not (folder / METAFNAME).exists():
                    shutil.rmtree(folder, ignore_errors=True)
        ddp_barrier()  # no rank lists the checkpoints before CKPT.yaml is in place
        return saved
