"""Mixup (Zhang et al., 2018) for classifier training, and the soft-target cross-entropy it needs.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Tuple

import torch


def mixup_batch(
    feats: torch.Tensor, targets: torch.Tensor, n_classes: int, alpha: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mix every example with a random partner of the same batch.

    ``lam ~ Beta(alpha, alpha)`` (one value per batch, ``max(lam, 1 - lam)`` so that the first example
    dominates); features and one-hot targets are mixed with the same weight. ``alpha <= 0`` returns the
    inputs unchanged with one-hot targets.

    Arguments
    ---------
    feats : torch.Tensor
        ``[B, ...]`` features.
    targets : torch.Tensor
        ``[B]`` class indices.
    n_classes : int
        Number of classes ``C``.
    alpha : float
        Beta distribution parameter.

    Returns
    -------
    mixed : torch.Tensor
        Same shape as ``feats``.
    soft_targets : torch.Tensor
        ``[B, C]`` target distributions.

    Example
    -------
    >>> _ = torch.manual_seed(0)
    >>> x, y = mixup_batch(torch.eye(2), torch.tensor([0, 1]), n_classes=2, alpha=0.0)
    >>> print(y.tolist())
    [[1.0, 0.0], [0.0, 1.0]]
    >>> x, y = mixup_batch(torch.eye(2), torch.tensor([0, 1]), n_classes=2, alpha=0.4)
    >>> print(y.sum(dim=1).tolist(), bool(torch.allclose(x, y)))
    [1.0, 1.0] True
    """
    one_hot = torch.nn.functional.one_hot(targets.long(), n_classes).to(feats.dtype)
    if alpha <= 0:
        return feats, one_hot
    lam = torch.distributions.Beta(alpha, alpha).sample().item()
    lam = max(lam, 1.0 - lam)
    perm = torch.randperm(feats.shape[0], device=feats.device)
    mixed = lam * feats + (1.0 - lam) * feats[perm]
    return mixed, lam * one_hot + (1.0 - lam) * one_hot[perm]


def soft_cross_entropy(logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with target distributions, averaged over the batch.

    Arguments
    ---------
    logits : torch.Tensor
        ``[B, C]``.
    soft_targets : torch.Tensor
        ``[B, C]``, rows summing to one.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Example
    -------
    >>> logits = torch.tensor([[0.0, 0.0]])
    >>> print(round(float(soft_cross_entropy(logits, torch.tensor([[1.0, 0.0]]))), 4))
    0.6931
    """
    return -(soft_targets * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()
