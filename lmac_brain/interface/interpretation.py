"""What an explanation of a batch is: masks, listenable audio, decisions and the explained classes.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import torch

from lmac_brain.explain.longform import Segment


@dataclass
class Interpretation:
    """What :class:`LMACInterpreter` returns for a batch.

    Attributes
    ----------
    mask : torch.Tensor
        ``[B, T, F]`` in ``[0, 1]``.
    interpretation : torch.Tensor
        ``[B, N]`` masked-in audio (what the classifier listened to), input length.
    masked_out : torch.Tensor
        ``[B, N]`` what the mask removes.
    labels : list of str
        Predicted class names (for long inputs: of the mean window probabilities).
    probs : torch.Tensor
        ``[B, C]`` class probabilities.
    logmag : torch.Tensor
        ``[B, T, F]`` ``log1p|X|`` of the input (for plots).
    targets : list of str
        The class each mask explains (the prediction unless a target or a rank was asked for).
    refined : torch.Tensor
        ``[B]`` bool: the mask was refined for a class other than the decision
        (:mod:`lmac_brain.explain.refine`); for long inputs, in at least one window.
    segments : list of list of Segment
        Per item, the explained windows (one covering the whole input when it fits one window). Without
        a target, each window of a long input explains its own decision.
    input : torch.Tensor
        ``[B, N]`` the input as the classifier heard it (after the interpreter's input normalisation,
        :meth:`LMACInterpreter.normalize`): what the mask was computed on.
    budget : float, optional
        If set, ``mask`` is binary and keeps exactly this share of the time-frequency bins, those the
        explanation ranks highest (:func:`lmac_brain.explain.budget_masks.keep_top` of
        :meth:`~lmac_brain.explain.lmac.LMAC.rank_scores`); the audio is of that binary mask.
    """

    mask: torch.Tensor
    interpretation: torch.Tensor
    masked_out: torch.Tensor
    labels: List[str]
    probs: torch.Tensor
    logmag: torch.Tensor
    targets: List[str]
    refined: torch.Tensor
    segments: List[List[Segment]]
    input: torch.Tensor
    budget: Optional[float] = None
