"""The upper reference: a mask optimised for each example at a fixed area (extremal perturbations).

Fong, Patrick and Vedaldi ("Understanding Deep Networks via Extremal Perturbations", ICCV 2019) find,
for one input, the mask of a given area that keeps the class best. Here (REFERENCE §10): sigmoid logits
per time-frequency bin, Adam, and the loss

``-log p_c(M X) - log(1 - p_c((1 - M) X)) + area_weight * (mean(M) - area)^2``

with ``c`` the explained class. It needs ``steps`` forward and backward passes of the classifier per
batch where L-MAC needs one decoder pass: it shows how good an explanation of *this* classifier can
get on the matched-budget metrics, and what the amortised decoder saves. The optimisation engine is
the one of the test-time refinement (:func:`lmac_brain.explain.refine.optimize_mask_logits`).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lmac_brain.models.classifier import AudioClassifier
from lmac_brain.models.frontend import Frontend
from lmac_brain.explain.refine import optimize_mask_logits
from lmac_brain.explain.targets import Target, resolve_target


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
        self, frontend: Frontend, classifier: AudioClassifier, steps: int = 100, lr: float = 0.1,
        area: float = 0.2, area_weight: float = 50.0, mask_domain: str = "log1p",
    ):
        self.frontend = frontend
        self.classifier = classifier.eval()
        self.steps, self.lr, self.area, self.area_weight = steps, lr, area, area_weight
        self.mask_domain = mask_domain

    def _classify(self, logmag: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.frontend.features(logmag))[0]

    def explain(self, wavs: torch.Tensor, target: Target = None) -> torch.Tensor:
        """Masks ``[B, T, F]`` in ``[0, 1]`` for waveforms ``[B, N]`` (``target``: Captum's grammar)."""
        with torch.no_grad():
            logmag, _ = self.frontend.log_magnitude_phase(wavs)
            target = resolve_target(target, self._classify(logmag))
        for p in self.classifier.parameters():
            p.requires_grad_(False)

        def objective(logits_in, logits_out, mask):
            keep = F.cross_entropy(logits_in, target)
            log_p_out = F.log_softmax(logits_out, dim=-1).gather(1, target.view(-1, 1))[:, 0]
            remove = -torch.log1p(-log_p_out.exp().clamp(max=1 - 1e-6)).mean()
            area = (mask.flatten(1).mean(dim=1) - self.area).pow(2).mean()
            return keep + remove + self.area_weight * area

        def apply(logmag, mask):
            return self.frontend.apply_mask(logmag, mask, self.mask_domain)

        logits = optimize_mask_logits(
            self._classify, apply, logmag, torch.zeros_like(logmag), objective, self.steps, self.lr
        )
        return torch.sigmoid(logits)
