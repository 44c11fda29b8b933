"""The L-MAC training objective and the guidance term of the L-MAC FT stage.

``loss = a * CE(f(M*X), y) - b * CE(f((1-M)*X), y) + l1 * L1(M) + tv * TV(M)``, with ``y = argmax f(X)``
(the classifier's own decision, not the label). Released preset: ``a=4, b=0.2, l1=0.4, tv=0``.

Departure from the reference code: its L1 term is the mean over the whole batch multiplied by the batch
size (an effective ``l1 * B``); here it is the per-sample mean of ``|M|`` averaged over the batch, so the
weight means the same at every batch size. (Multiply ``l1`` by the batch size to reproduce the reference.)

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F


def l1_term(mask: torch.Tensor) -> torch.Tensor:
    """Per-sample mean of ``|M|``, ``[B]``.

    Example
    -------
    >>> l1_term(torch.tensor([[[1.0, 0.0]], [[0.5, 0.5]]]))
    tensor([0.5000, 0.5000])
    """
    return mask.abs().flatten(1).mean(dim=1)


def tv_term(mask: torch.Tensor) -> torch.Tensor:
    """Total variation of each mask ``[B, T, F]``, ``[B]``.

    Mean squared difference between neighbours along time plus the same along frequency (a per-sample
    normalisation, so the value does not grow with the input length).

    Example
    -------
    >>> m = torch.tensor([[[0.0, 1.0], [0.0, 1.0]]])
    >>> tv_term(m)
    tensor([1.])
    """
    d_time = (mask[:, 1:, :] - mask[:, :-1, :]).pow(2).flatten(1).mean(dim=1)
    d_freq = (mask[:, :, 1:] - mask[:, :, :-1]).pow(2).flatten(1).mean(dim=1)
    return d_time + d_freq


def lmac_loss(
    logits_in: torch.Tensor,
    logits_out: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    w_in: float = 4.0,
    w_out: float = 0.2,
    w_l1: float = 0.4,
    w_tv: float = 0.0,
    regularize: Optional[torch.Tensor] = None,
    w_area: float = 0.0,
    area: float = 0.25,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """L-MAC loss and its terms.

    Arguments
    ---------
    logits_in, logits_out : torch.Tensor
        ``[B, C]`` logits of the masked-in and masked-out inputs.
    target : torch.Tensor
        ``[B]`` classes to explain (the classifier's decision on the input).
    mask : torch.Tensor
        ``[B, T, F]`` mask in ``[0, 1]``.
    w_in, w_out, w_l1, w_tv : float
        Weights of the masked-in CE, masked-out CE (subtracted), L1 and TV terms.
    regularize : torch.Tensor, optional
        ``[B]`` 0/1 weights of the L1, TV and area terms per sample (the FT stage switches them off for
        guided samples); default all ones.
    w_area, area : float
        Weight of ``(mean(M) - area)^2`` per sample, the area constraint of extremal perturbations
        (Fong, Patrick, Vedaldi, ICCV 2019): it sets how much of the spectrogram the soft mask keeps,
        where L1 only pushes it down against the CE terms (off by default, the paper's objective).

    Returns
    -------
    loss : torch.Tensor
        Scalar.
    terms : dict
        Batch means of ``ce_in``, ``ce_out``, ``l1`` and ``tv`` (detached), for logging.

    Example
    -------
    >>> logits = torch.zeros(2, 4)
    >>> loss, terms = lmac_loss(logits, logits, torch.tensor([0, 1]), torch.full((2, 3, 5), 0.5))
    >>> print(round(float(loss), 4), round(float(terms["ce_in"]), 4))
    5.4679 1.3863
    >>> loss_area, _ = lmac_loss(logits, logits, torch.tensor([0, 1]), torch.full((2, 3, 5), 0.5),
    ...                          w_area=50.0, area=0.25)
    >>> print(round(float(loss_area - loss), 4))  # 50 * (0.5 - 0.25)^2
    3.125
    """
    ce_in = F.cross_entropy(logits_in, target, reduction="none")
    ce_out = F.cross_entropy(logits_out, target, reduction="none")
    reg = torch.ones_like(ce_in) if regularize is None else regularize.to(ce_in.dtype)
    l1 = l1_term(mask)
    tv = tv_term(mask) if w_tv else torch.zeros_like(l1)
    area_dev = (l1 - area).pow(2) if w_area else torch.zeros_like(l1)  # l1 is the mean of M (M >= 0)
    per_sample = w_in * ce_in - w_out * ce_out + reg * (w_l1 * l1 + w_tv * tv + w_area * area_dev)
    terms = {
        name: value.detach().mean() for name, value in (("ce_in", ce_in), ("ce_out", ce_out), ("l1", l1), ("tv", tv))
    }
    if w_area:
        terms["area"] = area_dev.detach().mean()
    return per_sample.mean(), terms


def ft_guidance(
    mask: torch.Tensor,
    logmag_noisy: torch.Tensor,
    logmag_clean: torch.Tensor,
    gate_threshold: float = 0.6,
    oracle_threshold: float = 0.35,
    evidence: Optional[torch.Tensor] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gate, oracle mask and per-sample BCE of the L-MAC FT stage (REFERENCE §5).

    * gate: ``1[cos(log1p|X_clean|, M * log1p|X_noisy|) >= gate_threshold]`` per sample — the mask
      already isolates the clean clip well enough to be guided towards it;
    * oracle: ``O = 1[log1p|X_clean| >= oracle_threshold * max(log1p|X_clean|)]`` per sample;
    * BCE: per-sample mean of ``BCE(M, O)``.

    Arguments
    ---------
    mask : torch.Tensor
        ``[B, T, F]`` mask in ``[0, 1]``.
    logmag_noisy, logmag_clean : torch.Tensor
        ``log1p`` magnitudes ``[B, T, F]`` of the noisy input and of its clean component.
    gate_threshold : float
        Cosine similarity a sample needs to be guided (0.6 in the paper; 0.7 also used).
    oracle_threshold : float
        Fraction of the per-sample maximum above which the oracle is 1.
    evidence : torch.Tensor, optional
        ``[B]`` bool: the items whose mask the clean clip is evidence for; the others get gate 0. A
        class-conditional decoder explains sampled classes: only a mask of the clip's labelled class
        should mark the clean clip (None: every item, as in the reference, which explains the decision).

    Returns
    -------
    gate : torch.Tensor
        ``[B]`` in {0, 1}.
    oracle : torch.Tensor
        ``[B, T, F]`` in {0, 1}.
    bce : torch.Tensor
        ``[B]``.

    Example
    -------
    >>> clean = torch.tensor([[[1.0, 0.0], [0.2, 0.0]]])
    >>> noisy = torch.tensor([[[1.0, 1.0], [0.2, 1.0]]])
    >>> good = torch.tensor([[[0.99, 0.01], [0.99, 0.01]]])
    >>> gate, oracle, bce = ft_guidance(good, noisy, clean)
    >>> print(gate.tolist(), oracle.tolist())
    [1.0] [[[1.0, 0.0], [0.0, 0.0]]]
    >>> ft_guidance(good, noisy, clean, evidence=torch.tensor([False]))[0].tolist()  # a mask of another class
    [0.0]
    """
    masked = (mask * logmag_noisy).flatten(1)
    cos = F.cosine_similarity(masked, logmag_clean.flatten(1), dim=1, eps=1e-8)
    gate = (cos >= gate_threshold).to(mask.dtype)
    if evidence is not None:
        gate = gate * evidence.to(mask.dtype)
    peak = logmag_clean.flatten(1).amax(dim=1).view(-1, 1, 1)
    oracle = (logmag_clean >= oracle_threshold * peak).to(mask.dtype)
    bce = F.binary_cross_entropy(mask.clamp(1e-6, 1 - 1e-6), oracle, reduction="none").flatten(1).mean(dim=1)
    return gate, oracle, bce


def budget_loss(
    logits_in: torch.Tensor,
    logits_out: torch.Tensor,
    target: torch.Tensor,
    w_del: float = 1.0,
) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Matched-budget objective: keep the class on the top-``q`` bins, lose it on the rest.

    ``CE(f(M_q X), c) - w_del * log(1 - p_c(f((1 - M_q) X)))`` with ``M_q`` the (relaxed) top-``q`` mask
    of the decoder's scores (:func:`lmac_brain.explain.budget_masks.soft_keep_top`): the insertion and deletion that
    :mod:`lmac_brain.evaluation.budget` measures, as in extremal perturbations (Fong, Patrick, Vedaldi, ICCV 2019).
    Unlike the L-MAC masked-out term ``-CE``, the deletion term is bounded below (by 0).

    Arguments
    ---------
    logits_in, logits_out : torch.Tensor
        ``[N, C]`` logits of the kept and of the removed part (``N`` = budgets x batch).
    target : torch.Tensor
        ``[N]`` classes explained.
    w_del : float
        Weight of the deletion term.

    Returns
    -------
    loss : torch.Tensor
        Scalar.
    terms : dict
        Batch means of ``budget_in`` (CE kept), ``budget_out`` (``-log(1 - p)`` removed) and ``budget``
        (the returned loss), detached: ``budget`` is what ``select_key: budget`` selects checkpoints on.

    Example
    -------
    >>> logits = torch.zeros(2, 4)  # p = 0.25 everywhere
    >>> loss, terms = budget_loss(logits, logits, torch.tensor([0, 1]))
    >>> print(*(round(float(terms[key]), 4) for key in ("budget_in", "budget_out", "budget")))
    1.3863 0.2877 1.674
    """
    ce_in = F.cross_entropy(logits_in, target, reduction="none")
    log_p_out = F.log_softmax(logits_out, dim=-1).gather(1, target.view(-1, 1))[:, 0]
    # -log(1 - p) computed stably from log p
    keep_out = -torch.log1p(-log_p_out.exp().clamp(max=1 - 1e-6))
    loss = (ce_in + w_del * keep_out).mean()
    terms = {"budget_in": ce_in.detach().mean(), "budget_out": keep_out.detach().mean(), "budget": loss.detach()}
    return loss, terms
