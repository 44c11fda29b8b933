"""The upper reference: a mask optimised for each example at a fixed area (extremal perturbations).

Fong, Patrick and Vedaldi ("Understanding Deep Networks via Extremal Perturbations", ICCV 2019) find,
for one input, the mask of a given area that keeps the class best. Here (REFERENCE §10): sigmoid logits
per time-frequency bin, Adam, and the loss

``-log p_c(M X) - log(1 - p_c((1 - M) X)) + area_weight * (mean(M) - area)^2``

with ``c`` the explained class. It needs ``steps`` forward and backward passes of the classifier per
batch where L-MAC needs one decoder pass: it shows how good an explanation of *this* classifier can
get on the matched-budget metrics, and what the amortised decoder saves. The optimisation engine is
the one of the test-time refinement (:func:`lmac_brain.explain.refine.optimize_mask_logits`).

:class:`ObjectiveOptimum`, a diagnostic, minimises the decoder's own training objective per example the
same way: the gap between it and the decoder is what amortisation costs on that objective.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from lmac_brain.explain.budget_masks import soft_keep_top
from lmac_brain.explain.objective import budget_loss, lmac_loss
from lmac_brain.explain.refine import optimize_mask_logits
from lmac_brain.explain.targets import Target, resolve_target
from lmac_brain.models.classifier import AudioClassifier
from lmac_brain.models.frontend import Frontend


class OptimizedMask:
    """Per-example optimised mask at a fixed area, behind the explainer verb ``explain(wavs, target)``.

    Arguments
    ---------
    frontend : Frontend
        Shared time-frequency front end.
    classifier : AudioClassifier
        The classifier to explain (eval mode, never changed).
    steps : int
        Adam steps per batch.
    lr : float
        Adam learning rate.
    area : float
        Target mean of the mask.
    area_weight : float
        Weight of the squared area deviation.
    mask_domain : str
        How masks are applied (:meth:`~lmac_brain.models.frontend.Frontend.apply_mask`).

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3)).eval()
    >>> mask = OptimizedMask(Frontend(), clf, steps=3).explain(torch.randn(2, 8000))
    >>> print(mask.shape, bool(mask.min() >= 0 and mask.max() <= 1))
    torch.Size([2, 44, 513]) True
    """

    def __init__(
        self,
        frontend: Frontend,
        classifier: AudioClassifier,
        steps: int = 100,
        lr: float = 0.1,
        area: float = 0.2,
        area_weight: float = 50.0,
        mask_domain: str = "log1p",
    ):
        self.frontend = frontend
        self.classifier = classifier.eval()
        self.steps, self.lr, self.area, self.area_weight = steps, lr, area, area_weight
        self.mask_domain = mask_domain

    def _classify(self, logmag: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.frontend.features(logmag))[0]

    def _apply(self, logmag: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.frontend.apply_mask(logmag, mask, self.mask_domain)

    def _objective(self, logmag: torch.Tensor, target: torch.Tensor) -> Callable:
        """``(logits_in, logits_out, mask) -> loss`` of one batch: the extremal-perturbation loss."""

        def objective(logits_in, logits_out, mask):
            keep = F.cross_entropy(logits_in, target)
            log_p_out = F.log_softmax(logits_out, dim=-1).gather(1, target.view(-1, 1))[:, 0]
            remove = -torch.log1p(-log_p_out.exp().clamp(max=1 - 1e-6)).mean()
            area = (mask.flatten(1).mean(dim=1) - self.area).pow(2).mean()
            return keep + remove + self.area_weight * area

        return objective

    def explain(self, wavs: torch.Tensor, target: Target = None) -> torch.Tensor:
        """Masks ``[B, T, F]`` in ``[0, 1]`` for waveforms ``[B, N]`` (``target``: Captum's grammar)."""
        with torch.no_grad():
            logmag = self.frontend.log_magnitude(wavs)
            target = resolve_target(target, self._classify(logmag))
        for p in self.classifier.parameters():
            p.requires_grad_(False)
        logits = optimize_mask_logits(
            self._classify,
            self._apply,
            logmag,
            torch.zeros_like(logmag),
            self._objective(logmag, target),
            self.steps,
            self.lr,
        )
        return torch.sigmoid(logits)


class ObjectiveOptimum(OptimizedMask):
    """The L-MAC training objective minimised for each example: what the decoder could reach per clip.

    The decoder is trained to minimise, over many clips, the soft-mask terms
    (:func:`~lmac_brain.explain.objective.lmac_loss`) plus ``budget_weight`` times the matched-budget term
    (:func:`~lmac_brain.explain.objective.budget_loss` on the straight-through top-``q`` mask of the
    ranking ``M**g * log1p|X|``, one budget ``q`` per step). Here the same objective is minimised for
    each clip over free per-bin logits (Adam from zero, as :class:`OptimizedMask`), so the gap between
    this and the decoder is the amortisation's: what one decoder pass misses of what its own objective
    reaches on that clip. The ranking for a budget is the decoder's (:meth:`rank_scores`). A diagnostic,
    not an explainer to ship (``steps`` x 4 classifier passes per batch).

    Arguments
    ---------
    frontend, classifier : Frontend, AudioClassifier
        As :class:`OptimizedMask`.
    loss_weights : dict
        Keyword arguments of :func:`~lmac_brain.explain.objective.lmac_loss` (``w_in``, ``w_out``, ``w_l1``,
        ``w_tv``, ``w_area``, ``area``), as in the decoder's training.
    budget_weight, budget_w_del : float
        Weight of the matched-budget term and of its deletion half, as in training.
    budgets : sequence of float
        Budgets drawn from, one per step (a seeded sequence, the same for every batch).
    temperature : float
        Softness of the straight-through relaxation (training's ``budget_temperature``).
    rank_power : float, optional
        ``g`` of the ranking ``M**g * log1p|X|`` (None: by the mask), as the decoder's ``rank_power``.
    steps, lr : int, float
        Adam steps and learning rate.
    mask_domain : str
        How masks are applied.
    seed : int
        Seed of the budget sequence.

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3)).eval()
    >>> opt = ObjectiveOptimum(Frontend(), clf, {"w_in": 4.0, "w_out": 0.2, "w_area": 50.0, "area": 0.25}, steps=3)
    >>> wav = torch.randn(2, 8000)
    >>> mask = opt.explain(wav)
    >>> print(mask.shape, bool(mask.min() >= 0 and mask.max() <= 1), torch.equal(mask, opt.explain(wav)))
    torch.Size([2, 44, 513]) True True
    """

    def __init__(
        self,
        frontend: Frontend,
        classifier: AudioClassifier,
        loss_weights: dict,
        budget_weight: float = 4.0,
        budget_w_del: float = 16.0,
        budgets: Sequence[float] = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5),
        temperature: float = 0.1,
        rank_power: Optional[float] = 2.0,
        steps: int = 100,
        lr: float = 0.1,
        mask_domain: str = "log1p",
        seed: int = 0,
    ):
        super().__init__(frontend, classifier, steps, lr, mask_domain=mask_domain)
        self.loss_weights, self.budget_weight, self.budget_w_del = dict(loss_weights), budget_weight, budget_w_del
        self.budgets, self.temperature, self.rank_power = list(budgets), temperature, rank_power
        self.seed = seed

    def rank_scores(self, mask: torch.Tensor, logmag: torch.Tensor) -> torch.Tensor:
        """``M**g * log1p|X|`` (or ``M``): the ranking of the objective's budget term (the decoder's)."""
        return mask if self.rank_power is None else mask.pow(self.rank_power) * logmag

    def _objective(self, logmag: torch.Tensor, target: torch.Tensor) -> Callable:
        """The decoder's training objective on one batch; one budget per step, drawn from a seeded sequence."""
        generator = torch.Generator().manual_seed(self.seed)
        draws = iter(torch.randint(len(self.budgets), (self.steps,), generator=generator).tolist())
        log_energy = logmag.clamp(min=1e-6).log()

        def objective(logits_in, logits_out, mask):
            loss, _ = lmac_loss(logits_in, logits_out, target, mask, **self.loss_weights)
            scores = mask.clamp(min=1e-12).log()  # log of rank_scores: the same order
            if self.rank_power is not None:
                scores = self.rank_power * scores + log_energy
            kept = soft_keep_top(scores, self.budgets[next(draws)], self.temperature)
            budget, _ = budget_loss(
                self._classify(self._apply(logmag, kept)),
                self._classify(self._apply(logmag, 1.0 - kept)),
                target,
                self.budget_w_del,
            )
            return loss + self.budget_weight * budget

        return objective
