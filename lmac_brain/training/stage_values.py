"""The values a Brain collects over a stage, kept across an intra-epoch checkpoint.

A Brain's per-stage statistics (L-MAC's ``ce_in``, ``l1``, ... of every batch) are collected in memory and
summarised at the end of the stage. A run killed in the middle of an epoch and resumed from an
intra-epoch checkpoint would otherwise summarise only the batches after the restart, and log another
epoch than the uninterrupted run. As a checkpoint recoverable, :class:`StageValues` saves what the
training stage has collected so far and gives it back to the resumed stage.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from collections import defaultdict
from typing import DefaultDict, List

import speechbrain as sb
import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks


@register_checkpoint_hooks
class StageValues:
    """Per-stage value store (name -> list of tensors) that survives an intra-epoch checkpoint.

    Example
    -------
    >>> path = getfixture("tmpdir") / "values.ckpt"
    >>> store = StageValues()
    >>> store.start(sb.Stage.TRAIN)["l1"].append(torch.tensor([0.5]))
    >>> store.save(path)
    >>> resumed = StageValues()
    >>> resumed.load(path, end_of_epoch=False)
    >>> resumed.start(sb.Stage.TRAIN)["l1"]  # the training stage goes on where it was saved
    [tensor([0.5000])]
    >>> resumed.start(sb.Stage.VALID)  # any other stage starts empty
    defaultdict(<class 'list'>, {})
    """

    def __init__(self) -> None:
        self.values: DefaultDict[str, List[torch.Tensor]] = defaultdict(list)
        self._resumed = False

    def start(self, stage: sb.Stage) -> DefaultDict[str, List[torch.Tensor]]:
        """The store for a new stage: empty, unless it is the training stage resumed mid-epoch."""
        if not (self._resumed and stage == sb.Stage.TRAIN):
            self.values = defaultdict(list)
        self._resumed = False
        return self.values

    @mark_as_saver
    def save(self, path) -> None:
        """Write the values collected so far (each name's tensors concatenated)."""
        torch.save({name: torch.cat(vals) for name, vals in self.values.items() if vals}, path)

    @mark_as_loader
    def load(self, path, end_of_epoch: bool) -> None:
        """Take the saved values back for the stage that resumes; at an epoch's end nothing resumes."""
        if end_of_epoch:
            return
        saved = torch.load(path, weights_only=True)
        self.values = defaultdict(list, {name: [value] for name, value in saved.items()})
        self._resumed = True
