"""A batch decoded in passes of bounded memory: the decoder's features at ``T x n_mels`` never exceed
:data:`PASS_BYTES` at once.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple

import torch

PASS_BYTES = 24 * 2**20
"""Most bytes of the decoder's widest ``T x n_mels`` features (all items of a pass) computed at once; larger
batches run in passes of fewer items. On a CPU, glibc's allocator maps every block above 32 MiB afresh on each
call and its pages fault in on first touch: at batch 16 of 5 s clips (35 MiB of head features) that took longer
than the decoder's arithmetic; below that size, freed blocks are reused."""


def in_passes(
    fn: Callable,
    reps: Sequence[torch.Tensor],
    logmag: torch.Tensor,
    condition: Optional[Tuple[torch.Tensor, ...]],
    bytes_per_item: int,
) -> Tuple[Optional[torch.Tensor], ...]:
    """``fn(reps, logmag, condition)`` on slices of the batch of at most :data:`PASS_BYTES` (``bytes_per_item``
    each), its outputs concatenated along the batch (an output that is None stays None).

    Example
    -------
    >>> fn = lambda reps, logmag, condition: (logmag * 2, None)
    >>> out, none = in_passes(fn, [], torch.arange(6.0).view(6, 1, 1), None, bytes_per_item=PASS_BYTES // 2)
    >>> out.view(-1).tolist(), none
    ([0.0, 2.0, 4.0, 6.0, 8.0, 10.0], None)
    """
    n = logmag.shape[0]
    passes = min(n, -(-n * bytes_per_item // PASS_BYTES))
    if passes <= 1:
        return fn(reps, logmag, condition)
    step = -(-n // passes)
    parts = [
        fn(
            [r[i : i + step] for r in reps],
            logmag[i : i + step],
            None if condition is None else tuple(c[i : i + step] for c in condition),
        )
        for i in range(0, n, step)
    ]
    return tuple(None if outs[0] is None else torch.cat(outs) for outs in zip(*parts))
