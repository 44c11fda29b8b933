"""Budget masks: keep the top ``q`` of a ranking of time-frequency bins.

An explanation ranks the ``T x F`` bins of an item; a budget ``q`` turns the ranking into a binary mask
that keeps its top ``q`` (ties broken by a seeded random order, so equal scores do not favour low
indices). The budget counts either bins (``by="bins"``: exactly ``round(q * T * F)`` bins) or energy
(``by="energy"``: top-ranked bins are added until their ``|X|^2`` reaches ``q`` of the item's total, so
that choosing loud bins buys no budget). :func:`soft_keep_top` is the differentiable version the
matched-budget training objective uses.

These operations are part of the method (``lmac explain --budget``, the training objective) and are used
by the evaluation's matched-budget curves (:mod:`lmac_brain.evaluation.budget`), so they live here, below
both.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch

#: the units a budget can count
BY = ("bins", "energy")


def tie_break(n: int, seed: int = 0) -> torch.Tensor:
    """A seeded random order of ``n`` bins: rank of each bin among equal mask values (lower first).

    The same for every item of the same size, so rankings do not depend on how items are batched.

    Example
    -------
    >>> torch.equal(tie_break(6, seed=1), tie_break(6, seed=1)), sorted(tie_break(6).tolist())
    (True, [0, 1, 2, 3, 4, 5])
    """
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def rank_bins(mask: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Flat bin indices ``[B, T*F]`` of each item, highest mask value first, ties in a seeded random order.

    Example
    -------
    >>> mask = torch.tensor([[[0.1, 0.9], [0.5, 0.2]]])
    >>> rank_bins(mask)[0].tolist()
    [1, 2, 3, 0]
    >>> flat = torch.zeros(1, 2, 2)  # all tied: the seeded order decides, the same each time
    >>> torch.equal(rank_bins(flat, seed=3), rank_bins(flat, seed=3))
    True
    """
    flat = mask.detach().flatten(1).float()
    perm = tie_break(flat.shape[1], seed).to(flat.device)
    # Stable sort of the values in a random order: equal values keep that random order.
    order = torch.sort(flat[:, perm], dim=1, descending=True, stable=True).indices
    return perm[order]


def keep_top(
    mask: torch.Tensor,
    q: float,
    by: str = "bins",
    logmag: torch.Tensor = None,
    seed: int = 0,
) -> torch.Tensor:
    """Binary mask ``[B, T, F]`` keeping the top ``q`` of each item's bins in the ranking of ``mask``.

    Arguments
    ---------
    mask : torch.Tensor
        ``[B, T, F]`` scores (any real values; only their order matters).
    q : float
        Budget in ``[0, 1]``.
    by : str
        ``"bins"``: ``round(q * T * F)`` bins; ``"energy"``: the fewest top-ranked bins whose energy
        ``|X|^2 = expm1(logmag)^2`` reaches ``q`` of the item's total (needs ``logmag``).
    logmag : torch.Tensor, optional
        ``log1p|X|`` ``[B, T, F]``, for ``by="energy"``.
    seed : int
        Seed of the tie-breaking order.

    Returns
    -------
    torch.Tensor
        ``[B, T, F]`` of 0 and 1.

    Example
    -------
    >>> mask = torch.tensor([[[0.1, 0.9], [0.5, 0.2]]])
    >>> keep_top(mask, 0.5).tolist()
    [[[0.0, 1.0], [1.0, 0.0]]]
    >>> logmag = torch.log1p(torch.tensor([[[3.0, 1.0], [1.0, 1.0]]]))  # energies 9, 1, 1, 1
    >>> keep_top(mask, 0.25, by="energy", logmag=logmag).tolist()  # 1 + 1 < 3 = 0.25 * 12: a third bin
    [[[0.0, 1.0], [1.0, 1.0]]]
    """
    return keep_top_many(mask, [q], by, logmag, seed)


def keep_top_many(
    mask: torch.Tensor,
    budgets: Sequence[float],
    by: str = "bins",
    logmag: torch.Tensor = None,
    seed: int = 0,
    order: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """:func:`keep_top` at several budgets from one ranking: ``[Q*B, T, F]``, budget-major.

    ``order`` is ``rank_bins(mask, seed)`` when the caller has it already (it is the costly part: a
    sort of every item's bins), so that several budget units share one ranking.

    Example
    -------
    >>> mask = torch.rand(2, 10, 10)
    >>> many = keep_top_many(mask, [0.1, 0.5])
    >>> torch.equal(many[2:], keep_top(mask, 0.5)), many.shape
    (True, torch.Size([4, 10, 10]))
    >>> torch.equal(keep_top_many(mask, [0.1, 0.5], order=rank_bins(mask)), many)
    True
    """
    bad = [q for q in budgets if not 0.0 <= q <= 1.0]
    if bad:
        raise ValueError(f"Budget q={bad[0]} out of range: give the share of bins (or energy) to keep, in [0, 1].")
    if by not in BY:
        raise ValueError(f"Unknown budget unit {by!r}; choose from {', '.join(BY)}.")
    if by == "energy" and (logmag is None or logmag.shape != mask.shape):
        raise ValueError("by='energy' needs logmag (log1p|X|) of the mask's shape.")
    if order is None:
        order = rank_bins(mask, seed)
    elif order.shape != mask.flatten(1).shape:
        raise ValueError(f"order of shape {tuple(order.shape)} does not rank a mask of shape {tuple(mask.shape)}.")
    batch, n = order.shape
    # each bin's place in the ranking (the inverse permutation): the top-q bins are those placed below a count
    place = torch.empty_like(order).scatter_(1, order, torch.arange(n, device=order.device).expand(batch, n))
    if by == "energy":
        energy = logmag.detach().flatten(1).double().expm1().square()
        cumulative = torch.gather(energy, 1, order).cumsum(dim=1)
        total = energy.sum(dim=1, keepdim=True)
    out = []
    for q in budgets:
        if by == "bins":
            count = torch.full((batch, 1), int(round(q * n)), dtype=torch.long, device=order.device)
        else:  # fewest bins whose energy reaches the goal (a relative tolerance absorbs float rounding)
            count = ((cumulative < q * total * (1 - 1e-6)).sum(dim=1, keepdim=True) + int(q > 0)).clamp(max=n)
        out.append((place < count).to(mask.dtype).view_as(mask))
    return torch.cat(out)


def soft_keep_top(scores: torch.Tensor, q: float, temperature: float = 0.1, hard: bool = True) -> torch.Tensor:
    """Differentiable :func:`keep_top` (bins) for training, straight-through by default.

    The relaxation is ``sigmoid((S - tau_q) / (t sd(S)))``: ``tau_q`` is each item's threshold above
    which lie the top ``q`` of the scores, and ``sd(S)`` the item's standard deviation of the scores
    (both detached), so it is as soft at every scale of ``S``. With ``hard=True`` the forward value is
    the exact binary top-``q`` mask that the matched-budget metrics apply, and only the gradient is the
    relaxation's (straight-through estimator). Without it, a decoder can game the relaxation: scores
    bunched just around ``tau_q`` give half-open bins everywhere, a dense mask that the binary
    evaluation does not reward (measured: a decoder trained that way ranked worse than the loudest bins).

    Example
    -------
    >>> scores = torch.randn(2, 50, 40, requires_grad=True)
    >>> soft = soft_keep_top(scores, 0.2)
    >>> print(round(float((soft > 0.5).float().mean()), 2), soft.requires_grad)
    0.2 True
    >>> torch.equal(soft.detach(), keep_top(scores.detach(), 0.2))  # forward: exactly the binary mask
    True
    >>> relaxed = soft_keep_top(scores, 0.2, hard=False)
    >>> bool(((relaxed > 0.5) == keep_top(scores, 0.2).bool()).float().mean() > 0.99)
    True
    """
    if not 0.0 < q < 1.0:
        raise ValueError(f"Training budget q={q} must lie strictly between 0 and 1.")
    flat = scores.flatten(1)
    k = max(1, min(flat.shape[1] - 1, int(round((1.0 - q) * flat.shape[1]))))
    # the k-th smallest and the next one: the threshold sits between the kept and the dropped bins
    low = flat.detach().kthvalue(k, dim=1).values
    high = flat.detach().kthvalue(k + 1, dim=1).values
    tau = 0.5 * (low + high)
    scale = flat.detach().std(dim=1).clamp(min=1e-6) * temperature
    soft = torch.sigmoid((scores - tau.view(-1, 1, 1)) / scale.view(-1, 1, 1))
    if not hard:
        return soft
    binary = (scores.detach() > tau.view(-1, 1, 1)).to(soft.dtype)
    return binary + (soft - soft.detach())  # exactly binary forward, the relaxation's gradient
