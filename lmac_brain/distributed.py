"""Reductions across DDP ranks (torch.distributed, as initialised by SpeechBrain's ``ddp_init_group``).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import torch


def reduce_mean(values: torch.Tensor) -> float:
    """Mean of per-sample values over all DDP ranks (plain mean without DDP).

    Example
    -------
    >>> reduce_mean(torch.tensor([1.0, 2.0, 6.0]))
    3.0
    """
    stats = torch.stack([values.double().sum(), torch.tensor(float(values.numel()), dtype=torch.float64)])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(stats, op=torch.distributed.ReduceOp.SUM)
    return float(stats[0] / stats[1].clamp(min=1))
