"""Matched-budget faithfulness: insertion and deletion curves of a ranking of time-frequency bins.

Soft-mask metrics (:mod:`lmac_brain.evaluation.metrics`) reward a mask that keeps everything. Here every method
spends the same budget: the ``T x F`` bins of an item are ranked by the method's mask (ties broken by a
seeded random order), only the top ``q`` of them are kept as a binary mask ``B_q``, and the classifier's
probability of the explained class ``c`` is read on what is kept (insertion, ``p_c(B_q X)``, higher is
better) and on the rest (deletion, ``p_c((1 - B_q) X)``, lower is better), for every ``q`` of a fixed
grid. An AUC by the trapezoid rule over ``q``, divided by the ``q`` range, summarises a curve (a constant
curve ``p`` has AUC ``p``).

Two ways to count the budget:

- ``by="bins"``: ``q`` is the share of bins kept (exactly ``round(q * T * F)`` bins);
- ``by="energy"``: ``q`` is the share of the spectrogram's energy ``sum |X|^2`` kept: bins are added in
  ranking order until their energy reaches ``q`` of the total, so that choosing loud bins buys no budget.

Masks are applied in the project's mask domain (:meth:`~lmac_brain.models.frontend.Frontend.apply_mask`);
for binary masks both domains agree.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import torch

#: default budget grid: the share of bins (or of energy) kept, small budgets included
BUDGETS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)

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
    mask: torch.Tensor, q: float, by: str = "bins", logmag: torch.Tensor = None, seed: int = 0,
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
    mask: torch.Tensor, budgets: Sequence[float], by: str = "bins", logmag: torch.Tensor = None, seed: int = 0,
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


def budget_curves(
    model: Callable[[torch.Tensor], torch.Tensor],
    logmag: torch.Tensor,
    mask: torch.Tensor,
    target: torch.Tensor,
    apply_mask: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    budgets: Sequence[float] = BUDGETS,
    by: str = "bins",
    seed: int = 0,
    full: bool = True,
    order: Optional[torch.Tensor] = None,
    chunk: int = 8,
) -> Dict[str, torch.Tensor]:
    """Insertion and deletion curves ``[B, Q]``: probability of ``target`` on the top-``q`` bins and on the rest.

    Arguments
    ---------
    model : callable
        ``log1p|X| [B, T, F] -> logits [B, C]`` (e.g. :class:`~lmac_brain.explain.baselines.SpectrogramClassifier`).
    logmag : torch.Tensor
        ``log1p|X|`` ``[B, T, F]`` of the inputs.
    mask : torch.Tensor
        ``[B, T, F]`` the method's scores.
    target : torch.Tensor or None
        ``[B]`` the class each mask explains; None: the classifier's decision on the whole input.
    apply_mask : callable
        ``(logmag, binary mask) -> masked logmag``, the project's masking (mask domain).
    budgets, by, seed
        Budget grid, unit and tie-breaking seed (:func:`keep_top`).
    full : bool
        Also classify the whole input (needed when ``target`` is None); False saves that pass when
        the caller has it already.
    order : torch.Tensor, optional
        ``rank_bins(mask, seed)``, when the caller has it (:func:`keep_top_many`).
    chunk : int
        Masked inputs per classifier call. They are built chunk by chunk, never all ``2 Q B`` at once;
        8 is about 1.1-1.4x faster per input than 32 with the compiled CPU-scale CNN14 on a 2-core CPU
        (``python bench/scoring_speed.py --batch 4 8 16 32``, in repeated runs; 4 ties with 8).

    Returns
    -------
    dict
        ``insertion`` and ``deletion`` ``[B, Q]``, ``target`` ``[B]``, and with ``full``, ``full`` ``[B]``:
        the probability on the whole input.

    Example
    -------
    >>> model = lambda x: torch.stack([x.amax(dim=(1, 2)), torch.zeros(x.shape[0])], dim=1)  # class 0: loudest bin
    >>> logmag = torch.rand(2, 10, 10)
    >>> out = budget_curves(model, logmag, logmag, torch.zeros(2, dtype=torch.long), lambda x, m: x * m)
    >>> out["insertion"].shape, bool((out["insertion"] >= out["deletion"]).all())
    (torch.Size([2, 6]), True)
    >>> one = budget_curves(model, logmag, logmag, None, lambda x, m: x * m, chunk=1)
    >>> torch.equal(one["insertion"], out["insertion"]), torch.equal(one["deletion"], out["deletion"])
    (True, True)
    """
    if target is None and not full:
        raise ValueError("budget_curves needs a target, or full=True to explain the decision on the whole input.")
    if chunk < 1:
        raise ValueError(f"chunk={chunk}: give the number of masked inputs per classifier call (>= 1).")
    batch, n_budgets = logmag.shape[0], len(budgets)
    per_part = n_budgets * batch  # rows: insertion (budget-major), deletion, then the whole inputs
    with torch.no_grad():
        kept = keep_top_many(mask, budgets, by, logmag, seed, order)  # [Q*B, T, F], budget-major

        def rows(index: torch.Tensor) -> torch.Tensor:
            """Masked inputs of the rows ``index``: the top-q bins kept (insertion) or removed (deletion)."""
            removed = (index >= per_part).to(kept.dtype).view(-1, 1, 1)
            binary = (kept[index % per_part] - removed).abs()  # 1 - kept on the deletion rows
            return apply_mask(logmag[index % batch], binary)

        masked = 2 * per_part
        probs = [model(rows(torch.arange(i, min(i + chunk, masked)))) for i in range(0, masked, chunk)]
        if full:
            probs += [model(logmag[i:i + chunk]) for i in range(0, batch, chunk)]
        probs = torch.cat(probs).softmax(dim=-1)
    if target is None:
        target = probs[2 * per_part:].argmax(dim=-1)
    target = target.long()
    picked = probs.gather(1, target.repeat(probs.shape[0] // batch).view(-1, 1))[:, 0]
    out = {
        "insertion": picked[:per_part].view(n_budgets, batch).T,
        "deletion": picked[per_part: 2 * per_part].view(n_budgets, batch).T,
        "target": target,
    }
    if full:
        out["full"] = picked[2 * per_part:]
    return out


def normalized_auc(curve: torch.Tensor, budgets: Sequence[float] = BUDGETS) -> torch.Tensor:
    """Area under ``curve`` ``[B, Q]`` over ``budgets`` by the trapezoid rule, divided by the budget range.

    Example
    -------
    >>> normalized_auc(torch.full((1, 6), 0.3)).tolist()  # a constant curve p has AUC p
    [0.30000001192092896]
    >>> round(float(normalized_auc(torch.tensor([[0.0, 1.0]]), [0.0, 1.0])), 3)
    0.5
    """
    q = torch.tensor(list(budgets), dtype=curve.dtype, device=curve.device)
    if curve.shape[-1] != q.numel() or q.numel() < 2:
        raise ValueError(f"A curve of {curve.shape[-1]} points for {q.numel()} budgets; give at least 2 budgets, one per point.")
    return torch.trapezoid(curve, q, dim=-1) / (q[-1] - q[0])


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

