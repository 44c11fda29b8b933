"""Faithfulness and mask-quality metrics of the L-MAC paper, per sample and vectorised over a batch.

Notation (REFERENCE §7): ``c = argmax f(X)`` is the classifier's decision on the input, ``Y = p_c(X)``,
``O = p_c(M*X)`` (masked-in) and ``Ob = p_c((1-M)*X)`` (masked-out), with softmax probabilities.
Every function returns one value per example, ``[B]``, so that tables can carry confidence intervals;
average them for the paper's numbers.

========  =====  ==============================================================
metric    best   per-sample value
========  =====  ==============================================================
AI        up     ``100 * 1[Y < O]``
AD        down   ``100 * max(0, Y - O) / Y``
AG        up     ``100 * max(0, O - Y) / (1 - Y)``
FF        up     ``Y - Ob``
Fid-In    up     ``1[argmax f(M*X) == c]``
SPS       up     Gini index of ``|M| / max|M| + 1e-7``
COMP      down   Shannon entropy (nats) of ``|M| / sum|M|``
========  =====  ==============================================================

Departure from the reference code: its AD applies the softmax twice (probabilities of
probabilities), which compresses AD towards 0. ``double_softmax=True`` reproduces that.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Dict, Optional

import torch

METRIC_NAMES = ("AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP")


def faithfulness(
    logits: torch.Tensor,
    logits_in: torch.Tensor,
    logits_out: torch.Tensor,
    target: Optional[torch.Tensor] = None,
    double_softmax: bool = False,
) -> Dict[str, torch.Tensor]:
    """AI, AD, AG, FF and Fid-In from the classifier's logits on input, masked-in and masked-out.

    Arguments
    ---------
    logits, logits_in, logits_out : torch.Tensor
        ``[B, C]`` logits of ``f(X)``, ``f(M*X)`` and ``f((1-M)*X)``.
    target : torch.Tensor, optional
        ``[B]`` explained classes; default ``argmax f(X)``.
    double_softmax : bool
        Compute AD on ``softmax(softmax(logits))`` as the reference code does (compat only).

    Returns
    -------
    dict
        ``{"AI", "AD", "AG", "FF", "Fid-In"}`` -> ``[B]`` tensors.

    Example
    -------
    >>> logits = torch.log(torch.tensor([[0.5, 0.5], [0.8, 0.2]]))
    >>> masked_in = torch.log(torch.tensor([[0.75, 0.25], [0.4, 0.6]]))
    >>> masked_out = torch.log(torch.tensor([[0.25, 0.75], [0.7, 0.3]]))
    >>> m = faithfulness(logits, masked_in, masked_out)
    >>> print({k: [round(v, 3) for v in t.tolist()] for k, t in m.items()})
    {'AI': [100.0, 0.0], 'AD': [0.0, 50.0], 'AG': [50.0, 0.0], 'FF': [0.25, 0.1], 'Fid-In': [1.0, 0.0]}
    """
    if not logits.shape == logits_in.shape == logits_out.shape or logits.dim() != 2:
        raise ValueError(
            "faithfulness expects three [B, C] logit tensors of the same shape, got "
            f"{tuple(logits.shape)}, {tuple(logits_in.shape)}, {tuple(logits_out.shape)}."
        )
    if target is None:
        target = logits.argmax(dim=-1)
    target = target.view(-1, 1)
    p, p_in, p_out = (x.softmax(dim=-1).gather(1, target).squeeze(1) for x in (logits, logits_in, logits_out))
    if double_softmax:
        y_ad = logits.softmax(-1).softmax(-1).gather(1, target).squeeze(1)
        o_ad = logits_in.softmax(-1).softmax(-1).gather(1, target).squeeze(1)
    else:
        y_ad, o_ad = p, p_in
    tiny = torch.finfo(p.dtype).tiny
    return {
        "AI": 100.0 * (p < p_in).to(p.dtype),
        "AD": 100.0 * (y_ad - o_ad).clamp(min=0) / y_ad.clamp(min=tiny),
        "AG": 100.0 * (p_in - p).clamp(min=0) / (1 - p).clamp(min=tiny),
        "FF": p - p_out,
        "Fid-In": (logits_in.argmax(dim=-1) == target.squeeze(1)).to(p.dtype),
    }


def sparseness(mask: torch.Tensor) -> torch.Tensor:
    """SPS: Gini index of each mask (1 = all mass in one cell, 0 = uniform).

    ``a = |M| / max|M| + 1e-7`` flattened and sorted ascending; ``sum_i (2i - n - 1) a_i / (n sum a)``.

    Arguments
    ---------
    mask : torch.Tensor
        ``[B, ...]`` masks.

    Returns
    -------
    torch.Tensor
        ``[B]``.

    Example
    -------
    >>> one_hot = torch.zeros(1, 100); one_hot[0, 3] = 1.0
    >>> print([round(v, 3) for v in sparseness(torch.cat([torch.ones(1, 100), one_hot])).tolist()])
    [0.0, 0.99]
    """
    a = mask.flatten(1).abs()
    a = a / a.amax(dim=1, keepdim=True).clamp(min=torch.finfo(a.dtype).tiny) + 1e-7
    a, _ = a.sort(dim=1)
    n = a.shape[1]
    i = torch.arange(1, n + 1, device=a.device, dtype=a.dtype)
    return ((2 * i - n - 1) * a).sum(dim=1) / (n * a.sum(dim=1))


def complexity(mask: torch.Tensor) -> torch.Tensor:
    """COMP: Shannon entropy (natural log) of ``|M| / sum|M|`` for each mask ``[B, ...]``: ``[B]``, ``log(n)``
    for a uniform mask of ``n`` cells, 0 for a single cell.

    Example
    -------
    >>> uniform, single = torch.ones(1, 4), torch.eye(4)[:1]
    >>> print(f"{complexity(uniform).item():.4f} (log 4), {complexity(single).item():.1f}")
    1.3863 (log 4), 0.0
    """
    a = mask.flatten(1).abs()
    p = a / a.sum(dim=1, keepdim=True).clamp(min=torch.finfo(a.dtype).tiny)
    return (torch.where(p > 0, -p * p.log(), torch.zeros_like(p))).sum(dim=1)


def all_metrics(
    logits: torch.Tensor,
    logits_in: torch.Tensor,
    logits_out: torch.Tensor,
    mask: torch.Tensor,
    target: Optional[torch.Tensor] = None,
    double_softmax: bool = False,
) -> Dict[str, torch.Tensor]:
    """All seven metrics (:data:`METRIC_NAMES`), each ``[B]``: :func:`faithfulness` (same arguments) and the
    mask measures of ``mask``.

    Example
    -------
    >>> logits = torch.randn(3, 5)
    >>> m = all_metrics(logits, logits, logits, torch.rand(3, 10, 7))
    >>> print(list(m), m["AI"].shape)
    ['AI', 'AD', 'AG', 'FF', 'Fid-In', 'SPS', 'COMP'] torch.Size([3])
    """
    out = faithfulness(logits, logits_in, logits_out, target, double_softmax)
    out["SPS"] = sparseness(mask)
    out["COMP"] = complexity(mask)
    return out
