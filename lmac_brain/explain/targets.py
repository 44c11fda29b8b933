"""Which class an explanation is about: the target grammar shared by L-MAC and the baselines.

``target`` follows Captum's grammar: ``None`` (the classifier's own decision), an ``int`` for the whole
batch, or a list / 1-D tensor with one class per example. This module needs only torch, so that
explaining with L-MAC (:mod:`lmac_brain.explain.refine`, :mod:`lmac_brain.interface.interpreter`, ``lmac explain``) does
not import Captum, which only the attribution baselines (:mod:`lmac_brain.explain.baselines`) need.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Sequence, Union

import torch

Target = Union[None, int, Sequence[int], torch.Tensor]


def resolve_target(target: Target, logits: torch.Tensor) -> torch.Tensor:
    """Captum's target grammar -> ``[B]`` class indices (``None``: ``argmax`` of ``logits``).

    Arguments
    ---------
    target : None, int, sequence of int or torch.Tensor
        The class(es) to explain: the decision, one class for the batch, or one per example.
    logits : torch.Tensor
        ``[B, C]`` classifier outputs (for the decision, the batch size and the number of classes).

    Returns
    -------
    torch.Tensor
        ``[B]`` long class indices, on the device of ``logits``.

    Raises
    ------
    ValueError
        If the number of targets is not the batch size, or a class is out of range.

    Example
    -------
    >>> logits = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    >>> print(*(resolve_target(target, logits).tolist() for target in (None, 1, [0, 1])))
    [1, 0] [1, 1] [0, 1]
    >>> resolve_target(2, logits)
    Traceback (most recent call last):
    ...
    ValueError: target [2, 2] out of range: the classifier has 2 classes (0..1).
    """
    batch, n_classes = logits.shape
    if target is None:
        out = logits.argmax(dim=-1)
    elif isinstance(target, int):
        out = torch.full((batch,), target, dtype=torch.long, device=logits.device)
    else:
        out = torch.as_tensor(target, dtype=torch.long, device=logits.device).view(-1)
        if out.numel() != batch:
            raise ValueError(f"target has {out.numel()} entries for a batch of {batch}; give one class per example.")
    if ((out < 0) | (out >= n_classes)).any():
        raise ValueError(
            f"target {out.tolist()} out of range: the classifier has {n_classes} classes (0..{n_classes - 1})."
        )
    return out
