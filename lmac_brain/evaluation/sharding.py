"""Evaluation spread over processes: each rank explains a shard of the items, rank 0 gets every row.

Under ``torchrun`` (gloo on CPU, nccl on GPUs; SpeechBrain's ``ddp_init_group`` joins the group) an
evaluation set is split round-robin (item ``i`` goes to rank ``i mod world``); :func:`gather_rows`
collects the per-item rows of every rank and puts them back in item order, so the result is the same
as one process's (up to float rounding of batched convolutions; timings differ, of course). Without a
process group, a shard is the whole set and gathering returns the rows unchanged.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch


def rank_and_world() -> Tuple[int, int]:
    """``(rank, world size)`` of this process; ``(0, 1)`` without a process group.

    Example
    -------
    >>> rank_and_world()
    (0, 1)
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class Shard(torch.utils.data.Dataset):
    """Items ``rank, rank + world, ...`` of ``dataset`` (all of them for ``world = 1``).

    Example
    -------
    >>> [Shard(list("abcde"), 1, 2)[i] for i in range(len(Shard(list("abcde"), 1, 2)))]
    ['b', 'd']
    """

    def __init__(self, dataset: Sequence, rank: int, world: int):
        self.dataset = dataset
        self.indices = range(rank, len(dataset), world)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.dataset[self.indices[i]]


def gather_rows(rows: List[Dict]) -> List[Dict]:
    """Rows of this rank's shard (one row per item, in shard order) -> rows of every item, in item order.

    Every rank gets the full list (``all_gather_object``); call it on every rank.

    Example
    -------
    >>> gather_rows([{"item": "a"}, {"item": "c"}])  # one process: unchanged
    [{'item': 'a'}, {'item': 'c'}]
    """
    rank, world = rank_and_world()
    if world == 1:
        return rows
    parts: List[List[Dict]] = [[] for _ in range(world)]
    torch.distributed.all_gather_object(parts, rows)
    total = sum(len(p) for p in parts)
    return [parts[i % world][i // world] for i in range(total)]


def leave_group() -> None:
    """Wait for every rank, then close the process group; nothing without one.

    Call it on every rank at the end of a run. A rank that leaves the interpreter while the group is
    still up can abort in gloo's destructor ("terminate called without an active exception"), which
    ``torchrun`` reports as a failed run although every result was written.

    Example
    -------
    >>> leave_group()  # one process: nothing to close
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
