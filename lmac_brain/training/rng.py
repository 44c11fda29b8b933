"""Random-number state as a checkpoint recoverable, so that a resumed run continues the same random stream.

SpeechBrain's checkpoints hold the model, optimiser, scheduler and epoch counter, and its training
sampler reshuffles deterministically per epoch; but random crops (Python's ``random``), SpecAugment,
mixup and dropout (torch) and NumPy draw from process-global generators that restart from the seed
when a killed run is started again. With :class:`GlobalRNG` among the checkpointer's recoverables,
the resumed run restores the states saved with the checkpoint and repeats exactly what the
uninterrupted run did (on CPU), so both end with the same weights and metrics.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import random

import numpy as np
import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks


@register_checkpoint_hooks
class GlobalRNG:
    """Saves and restores the states of torch's, NumPy's and Python's global generators.

    Example
    -------
    >>> path = getfixture("tmpdir") / "rng.ckpt"
    >>> rng = GlobalRNG()
    >>> rng.save(path)
    >>> first = (torch.rand(1).item(), np.random.rand(), random.random())
    >>> rng.load(path, end_of_epoch=True)
    >>> first == (torch.rand(1).item(), np.random.rand(), random.random())
    True
    """

    @mark_as_saver
    def save(self, path) -> None:
        """Write the three generator states to ``path``."""
        torch.save({"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}, path)

    @mark_as_loader
    def load(self, path, end_of_epoch: bool) -> None:
        """Restore the states saved at ``path`` (at the end of an epoch or within one alike)."""
        state = torch.load(path, weights_only=False)
        torch.set_rng_state(state["torch"])
        np.random.set_state(state["numpy"])
        random.setstate(state["python"])


def own_generator(loader_kwargs: dict) -> dict:
    """``loader_kwargs`` of a training DataLoader with a ``torch.Generator`` of its own.

    Every time a ``DataLoader`` starts an iteration it draws a base seed for its workers, from its
    ``generator`` or, without one, from torch's global generator. A run resumed from an intra-epoch
    checkpoint restores the global generator (:class:`GlobalRNG`) to its state after the saved step and
    then starts the interrupted epoch's iteration again, so that draw would shift every later draw of
    dropout, SpecAugment and mixup by one against the uninterrupted run. With a generator of its own the
    loader never touches the global stream. Its default seed is fixed, so runs stay reproducible.

    Example
    -------
    >>> kwargs = own_generator({"batch_size": 2, "shuffle": True})
    >>> state = torch.get_rng_state()
    >>> _ = iter(torch.utils.data.DataLoader(range(4), **kwargs))
    >>> torch.equal(state, torch.get_rng_state())  # the global stream is untouched
    True
    """
    return {**loader_kwargs, "generator": loader_kwargs.get("generator") or torch.Generator()}
