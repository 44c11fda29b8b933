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

The binary masks come from :mod:`lmac_brain.explain.budget_masks` (:func:`~lmac_brain.explain.budget_masks.keep_top`).
Masks are applied in the project's mask domain (:meth:`~lmac_brain.models.frontend.Frontend.apply_mask`);
for binary masks both domains agree.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import torch

from lmac_brain.explain.budget_masks import keep_top_many

#: default budget grid: the share of bins (or of energy) kept, small budgets included
BUDGETS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


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
        Budget grid, unit and tie-breaking seed (:func:`~lmac_brain.explain.budget_masks.keep_top`).
    full : bool
        Also classify the whole input (needed when ``target`` is None); False saves that pass when
        the caller has it already.
    order : torch.Tensor, optional
        ``rank_bins(mask, seed)``, when the caller has it (:func:`~lmac_brain.explain.budget_masks.keep_top_many`).
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
            probs += [model(logmag[i : i + chunk]) for i in range(0, batch, chunk)]
        probs = torch.cat(probs).softmax(dim=-1)
    if target is None:
        target = probs[2 * per_part :].argmax(dim=-1)
    target = target.long()
    picked = probs.gather(1, target.repeat(probs.shape[0] // batch).view(-1, 1))[:, 0]
    out = {
        "insertion": picked[:per_part].view(n_budgets, batch).T,
        "deletion": picked[per_part : 2 * per_part].view(n_budgets, batch).T,
        "target": target,
    }
    if full:
        out["full"] = picked[2 * per_part :]
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
        raise ValueError(
            f"A curve of {curve.shape[-1]} points for {q.numel()} budgets; give at least 2 budgets, one per point."
        )
    return torch.trapezoid(curve, q, dim=-1) / (q[-1] - q[0])
