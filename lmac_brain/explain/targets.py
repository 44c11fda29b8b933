"""Which class an explanation is about: the target grammar shared by L-MAC and the baselines.

Classes are named by index or by name (:func:`class_index`, :func:`class_indices`: what a user types); inside,
``target`` follows Captum's grammar: ``None`` (the classifier's own decision), an ``int`` for the whole
batch, or a list / 1-D tensor with one class per example. This module needs only torch, so that
explaining with L-MAC (:mod:`lmac_brain.explain.refine`, :mod:`lmac_brain.interface.interpreter`, ``lmac explain``) does
not import Captum, which only the attribution baselines (:mod:`lmac_brain.explain.baselines`) need.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import difflib
from typing import List, Optional, Sequence, Union

import torch

Target = Union[None, int, Sequence[int], torch.Tensor]

#: a class as a user names it: its index, or its name
ClassRef = Union[int, str]


def class_index(target: ClassRef, names: List[str]) -> int:
    """Index of a class given by name or index among ``names``, with a clear error for an unknown class.

    Example
    -------
    >>> class_index("rain", ["dog", "rain"]), class_index(0, ["dog", "rain"]), class_index("1", ["dog", "rain"])
    (1, 0, 1)
    >>> class_index("dgo", ["dog", "rain"])
    Traceback (most recent call last):
    ...
    ValueError: Unknown target class 'dgo'. Did you mean: dog? The classifier knows 2 classes: dog, rain.
    """
    if isinstance(target, str) and not target.isdigit():
        if target in names:
            return names.index(target)
        close = difflib.get_close_matches(target, names, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        raise ValueError(f"Unknown target class {target!r}.{hint} The classifier knows {len(names)} classes: {shown}.")
    index = int(target)
    if not 0 <= index < len(names):
        raise ValueError(
            f"Target class index {index} out of range: the classifier has {len(names)} classes (0..{len(names) - 1})."
        )
    return index


def class_indices(
    target: Union[None, ClassRef, Sequence[ClassRef], torch.Tensor], names: List[str], batch: int
) -> Optional[torch.Tensor]:
    """The class of each of ``batch`` items: one class for all, or one per item (names or indices); None stays
    None (the decision).

    Example
    -------
    >>> class_indices("rain", ["dog", "rain"], 3).tolist(), class_indices(["rain", 0], ["dog", "rain"], 2).tolist()
    ([1, 1, 1], [1, 0])
    """
    if target is None:
        return None
    many = isinstance(target, (list, tuple, torch.Tensor))
    refs = list(target.tolist() if isinstance(target, torch.Tensor) else target) if many else [target] * batch
    if len(refs) != batch:
        raise ValueError(f"{len(refs)} targets for a batch of {batch}; give one target, or one per item.")
    return torch.tensor([class_index(r, names) for r in refs], dtype=torch.long)


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
