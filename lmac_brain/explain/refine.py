"""Explaining a class other than the classifier's decision: test-time refinement of the L-MAC mask.

The paper's L-MAC decoder is not class-conditional: it was trained to explain the classifier's own
decision ``argmax f(X)``, which is what it outputs in one forward pass (a class-conditional decoder,
``LMACDecoder(conditional=True, class_code=K)``, answers for any class in that pass, and refinement is
then an option that starts from its mask). To answer "why class ``c``?" for another ``c``, the mask
logits are refined by gradient descent on the same L-MAC objective the decoder was trained on, with ``c``
as the class: ``w_in CE(f(M*X), c) - w_out CE(f((1-M)*X), c) + w_l1 |M|``, starting from the decoder's
mask. Only the mask logits are optimised; the classifier is frozen. The refinement of one item never
depends on other items of the batch (Adam updates each logit on its own).

Where ``c`` is the decision, the decoder's mask is returned unchanged (it is the amortised answer to
that exact question), so ``target=None`` and ``target=<decision>`` give the same mask.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional

import torch

from lmac_brain.explain.objective import lmac_loss
from lmac_brain.explain.targets import Target, resolve_target


@dataclass
class Refinement:
    """Settings of the test-time refinement (defaults: the released L-MAC loss preset).

    Attributes
    ----------
    steps : int
        Adam steps on the mask logits.
    lr : float
        Adam learning rate.
    w_in, w_out, w_l1 : float
        Weights of the masked-in CE, the masked-out CE (subtracted) and the L1 term.
    """

    steps: int = 30
    lr: float = 0.1
    w_in: float = 4.0
    w_out: float = 0.2
    w_l1: float = 0.4


def optimize_mask_logits(
    classify: Callable[[torch.Tensor], torch.Tensor],
    apply_mask: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    logmag: torch.Tensor,
    init_logits: torch.Tensor,
    objective: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    steps: int,
    lr: float,
) -> torch.Tensor:
    """Adam on per-bin mask logits; returns the optimised logits ``[B, T, F]`` (detached).

    The shared engine of the test-time refinement (:func:`refine_mask`) and of the per-example
    optimised mask (:mod:`lmac_brain.explain.extremal`). Each step scores the masked-in and masked-out inputs
    and minimises ``objective(logits_in, logits_out, mask)``; the classifier is never changed.

    Arguments
    ---------
    classify : callable
        ``log1p|X| -> logits [B, C]``.
    apply_mask : callable
        ``(log1p|X|, mask) -> masked log1p|X|``.
    logmag : torch.Tensor
        ``[B, T, F]`` ``log1p|X|`` of the inputs.
    init_logits : torch.Tensor
        ``[B, T, F]`` starting logits.
    objective : callable
        ``(logits_in, logits_out, mask) -> scalar loss``.
    steps, lr : int, float
        Adam steps and learning rate.
    """
    logits = init_logits.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    logmag = logmag.detach()
    with torch.enable_grad():
        for _ in range(steps):
            mask = torch.sigmoid(logits)
            loss = objective(classify(apply_mask(logmag, mask)), classify(apply_mask(logmag, 1.0 - mask)), mask)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return logits.detach()


def refine_mask(
    lmac, logmag: torch.Tensor, init_logits: torch.Tensor, target: torch.Tensor, config: Refinement
) -> torch.Tensor:
    """Mask ``[B, T, F]`` for classes ``target`` ``[B]``, refined from the mask logits ``init_logits``.

    Arguments
    ---------
    lmac : LMAC
        Supplies ``classify``, ``apply_mask`` and ``to_mask``.
    logmag : torch.Tensor
        ``[B, T, F]`` ``log1p|X|`` of the inputs.
    init_logits : torch.Tensor
        ``[B, T, F]`` starting mask logits (the decoder's).
    target : torch.Tensor
        ``[B]`` class indices to explain.
    config : Refinement
        Steps, learning rate and loss weights.

    Returns
    -------
    torch.Tensor
        ``[B, T, F]`` in ``[0, 1]``.
    """

    def objective(logits_in, logits_out, mask):
        return lmac_loss(logits_in, logits_out, target, mask, config.w_in, config.w_out, config.w_l1)[0]

    def classify(logmag):
        return lmac.classify(logmag)[0]

    logits = optimize_mask_logits(classify, lmac.apply_mask, logmag, init_logits, objective, config.steps, config.lr)
    return lmac.to_mask(logits)


@torch.no_grad()
def targeted_masks(
    lmac,
    wavs: torch.Tensor,
    target: Target = None,
    config: Optional[Refinement] = None,
    refine: Optional[bool] = None,
    phase: bool = True,
) -> Dict[str, torch.Tensor]:
    """What :meth:`~lmac_brain.explain.lmac.LMAC.mask_of` returns, with the mask explaining ``target``.

    Arguments
    ---------
    lmac : LMAC
        The explainer.
    wavs : torch.Tensor
        ``[B, N]`` waveforms.
    target : int, sequence of int or torch.Tensor, optional
        Class(es) to explain, one for all or one per item; None explains the decisions.
    config : Refinement, optional
        Refinement settings (default :class:`Refinement`).
    refine : bool, optional
        Refine the mask of a class that is not the decision. None (default): only where the decoder
        cannot answer by itself, i.e. for an unconditional decoder; a conditional decoder explains any
        class in its one pass, and ``refine=True`` then starts the refinement from that class's mask.
    phase : bool
        Also return the input's phase (default True; False for a mask alone, see ``mask_of``).

    Returns
    -------
    dict
        ``logmag``, ``phase``, ``logits``, ``mask`` as ``mask_of`` (and ``mask_logits`` where a mask may be refined:
        ``refine=True``, or an unconditional decoder), plus ``target`` ``[B]`` (the explained classes) and
        ``refined`` ``[B]`` (bool: the mask was refined).

    Example
    -------
    >>> lmac = getfixture("tiny_lmac")  # an (untrained) LMAC of 3 classes
    >>> wavs = torch.randn(2, 8000)
    >>> plain = targeted_masks(lmac, wavs)
    >>> other = (plain["logits"].argmax(-1) + 1) % 3
    >>> out = targeted_masks(lmac, wavs, other, Refinement(steps=2))
    >>> print(out["refined"].tolist(), bool(out["mask"].min() >= 0 and out["mask"].max() <= 1))
    [True, True] True
    """
    may_refine = not lmac.conditional if refine is None else refine
    out = lmac.mask_of(wavs, target, phase=phase, with_logits=may_refine)  # refinement starts from the logits
    decision = out["logits"].argmax(dim=-1)
    target = resolve_target(target, out["logits"])
    refined = (target != decision) & may_refine
    if refined.any():
        idx = refined.nonzero().squeeze(1)
        out["mask"] = out["mask"].clone()
        out["mask"][idx] = refine_mask(
            lmac, out["logmag"][idx], out["mask_logits"][idx], target[idx], config or Refinement()
        )
    out["target"], out["refined"] = target, refined
    return out
