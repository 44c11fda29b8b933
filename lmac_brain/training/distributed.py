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


def reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum of a tensor (e.g. confusion counts) over all DDP ranks (a copy without DDP).

    Example
    -------
    >>> reduce_sum(torch.tensor([[1, 2], [0, 3]]))
    tensor([[1, 2],
            [0, 3]])
    """
    total = values.clone()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM)
    return total


class CPUDistributedMixin:
    """``sb.Brain`` mixin: DDP on CPU (torchrun + gloo) for models with batch norm.

    SpeechBrain 1.1.2 converts every batch norm to ``SyncBatchNorm`` before wrapping a module in
    ``DistributedDataParallel``, and torch rejects ``SyncBatchNorm`` on CPU modules ("SyncBatchNorm
    layers only work with GPU modules"), so a CNN14 cannot be trained with ``--distributed_backend gloo``
    on CPUs. On CPU this mixin wraps the trainable modules in torch's ``DistributedDataParallel``
    directly (gradients all-reduced by gloo; batch-norm statistics stay per rank, as without
    ``--sync_batchnorm`` anywhere); on GPUs SpeechBrain's own wrapping is used unchanged.
    """

    def _wrap_distributed(self):
        if not self.distributed_launch or not str(self.device).startswith("cpu"):
            return super()._wrap_distributed()
        from torch.nn.parallel import DistributedDataParallel

        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = DistributedDataParallel(module, find_unused_parameters=self.find_unused_parameters)
