"""``LMAC``: front end -> frozen classifier -> decoder -> mask, as named steps.

The chain is split into steps that can be overridden one at a time (Asteroid style):
:meth:`LMAC.analyse` (waveform -> ``log1p|X|``, phase), :meth:`LMAC.classify` (``log1p|X|`` -> logits
and block outputs), :meth:`LMAC.mask_logits` (block outputs -> decoder output), :meth:`LMAC.to_mask`
(sigmoid, optional threshold) and :meth:`LMAC.apply_mask` (mask -> masked ``log1p|X|``).
:meth:`LMAC.explain` is the one verb every explainer of the project
shares: waveforms in, masks ``[B, T, F]`` in ``[0, 1]`` out.

The classifier is frozen: its parameters never require gradients and it stays in eval mode even when
the surrounding module is put in training mode (``train()`` is overridden), so its batch-norm
statistics are never updated while the decoder trains.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch

from lmac_brain.explain.budget_masks import soft_keep_top
from lmac_brain.explain.targets import Target, resolve_target
from lmac_brain.models.classifier import AudioClassifier
from lmac_brain.models.conditioning import gated_logits, gated_mask
from lmac_brain.models.frontend import Frontend


class LMAC(torch.nn.Module):
    """L-MAC explainer of a frozen audio classifier.

    Arguments
    ---------
    frontend : Frontend
        Shared time-frequency front end.
    classifier : AudioClassifier
        The classifier to explain (frozen here).
    decoder : torch.nn.Module
        Maps ``(block outputs, log1p|X|)`` to mask logits ``[B, T, F]``, and gives the mask's factors with
        ``factors`` (:class:`~lmac_brain.models.decoder.LMACDecoder`,
        :class:`~lmac_brain.models.reference_decoder.ReferenceDecoder`).
    mask_domain : str
        ``"log1p"`` (reference code: ``M * log1p|X|``) or ``"linear"`` (paper: ``M * |X|``).
    threshold : float, optional
        If set, masks are binarised (``M >= threshold``) outside training, as the paper's "binary
        masks"; the reference code never binarises (default None).
    rank_power : float, optional
        How bins are ranked for a budget (the matched-budget metrics, ``budget=q`` in the interpreter,
        and the budget objective in training). None (default): by the mask. ``g``: by
        ``M**g * log1p|X|``, the masked-in spectrogram with the mask sharpened by ``g`` -- within what
        the mask lets through, the louder bins first (see :meth:`rank_scores`).

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> from lmac_brain.models.decoder import LMACDecoder, rep_channels
    >>> emb = Cnn14(80, 32, 0.125, return_reps=True)
    >>> clf = AudioClassifier(emb, torch.nn.Linear(32, 5))
    >>> lmac = LMAC(Frontend(), clf, LMACDecoder(rep_channels(emb), hidden=8, out_channels=4)).eval()
    >>> mask = lmac.explain(torch.randn(2, 16000))
    >>> print(mask.shape, bool(mask.min() >= 0 and mask.max() <= 1))
    torch.Size([2, 87, 513]) True
    """

    def __init__(
        self,
        frontend: Frontend,
        classifier: AudioClassifier,
        decoder: torch.nn.Module,
        mask_domain: str = "log1p",
        threshold: Optional[float] = None,
        rank_power: Optional[float] = None,
    ):
        super().__init__()
        if rank_power is not None and rank_power < 0:
            raise ValueError(f"rank_power must be None or >= 0, got {rank_power}.")
        self.frontend, self.classifier, self.decoder = frontend, classifier, decoder
        self.mask_domain, self.threshold, self.rank_power = mask_domain, threshold, rank_power
        for p in self.classifier.parameters():
            p.requires_grad_(False)
        self.classifier.eval()

    def train(self, mode: bool = True) -> "LMAC":
        """Set training mode for the decoder only; the classifier stays in eval mode."""
        super().train(mode)
        self.classifier.eval()
        return self

    def analyse(self, wavs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Waveforms ``[B, N]`` -> ``log1p|X|`` and phase, each ``[B, T, F]``."""
        return self.frontend.log_magnitude_phase(wavs)

    def classify(self, logmag: torch.Tensor) -> Tuple[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """``log1p|X|`` (possibly masked) -> logits ``[B, C]`` and the classifier's block outputs."""
        return self.classifier(self.frontend.features(logmag))

    @property
    def conditional(self) -> bool:
        """True if the decoder is told which class it explains (a class-conditional decoder)."""
        return bool(getattr(self.decoder, "conditional", False))

    def mask_logits(self, reps, logmag: torch.Tensor, target: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Decoder output before the sigmoid, ``[B, T, F]`` (the starting point of targeted refinement).

        ``target`` ``[B]``: the classes explained, needed by a conditional decoder (ignored otherwise).
        """
        return gated_logits(*self.mask_factors(reps, logmag, target))

    def mask_factors(
        self, reps, logmag: torch.Tensor, target: Optional[torch.Tensor] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The decoder's mask factors as logits: ``[B, T, F]`` and its time gate's ``[B, T]`` (None without a gate);
        :meth:`mask_logits` are the logits of their product, :func:`~lmac_brain.models.conditioning.gated_mask`
        the mask."""
        if not self.conditional:
            return self.decoder.factors(reps, logmag)
        return self.decoder.factors(reps, logmag, self.classifier.class_directions(target))

    def to_mask(self, logits: torch.Tensor) -> torch.Tensor:
        """Mask ``[B, T, F]`` in ``[0, 1]`` from mask logits (sigmoid, then the optional threshold)."""
        return self._binarise(torch.sigmoid(logits))

    def _binarise(self, mask: torch.Tensor) -> torch.Tensor:
        """The optional threshold (outside training) on a mask in ``[0, 1]``."""
        if self.threshold is not None and not self.training:
            mask = (mask >= self.threshold).to(mask.dtype)
        return mask

    def apply_mask(self, logmag: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked ``log1p|X|`` in the configured domain."""
        return self.frontend.apply_mask(logmag, mask, self.mask_domain)

    def rank_scores(self, mask: torch.Tensor, logmag: torch.Tensor) -> torch.Tensor:
        """Scores ``[B, T, F]`` whose top ``q`` a budget keeps: the mask, or ``M**g * log1p|X|``.

        With ``rank_power = g`` the ranking is that of the masked-in spectrogram's magnitude, the mask
        raised to ``g`` first: ``g = 0`` is the Energy floor, large ``g`` ranks by the mask and breaks
        its near-ties by loudness. A mask decided at a coarser resolution than ``T x F`` marks regions;
        within them, the loud bins carry the sound.

        Example
        -------
        >>> lmac = getfixture("tiny_lmac")
        >>> lmac.rank_power = 2.0
        >>> mask, logmag = torch.tensor([[[1.0, 0.5]]]), torch.tensor([[[1.0, 3.0]]])
        >>> lmac.rank_scores(mask, logmag).tolist()
        [[[1.0, 0.75]]]
        """
        if self.rank_power is None:
            return mask
        return mask.pow(self.rank_power) * logmag

    def mask_of(
        self, wavs: torch.Tensor, target: Union[Target, Callable] = None, phase: bool = True, with_logits: bool = True
    ) -> Dict[str, torch.Tensor]:
        """Front end, classifier decision and mask, without scoring the masked inputs.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, N]`` waveforms.
        target : None, int, sequence, tensor or callable
            The classes explained (:func:`~lmac_brain.explain.targets.resolve_target`; a callable maps the
            logits ``[B, C]`` to ``[B]`` classes, as training samples them). A conditional decoder
            explains them in this one pass; an unconditional one always explains the decision (see
            :func:`~lmac_brain.explain.refine.targeted_masks` for other classes).
        phase : bool
            Also return the input's phase (what listening to the mask needs; default True). False skips it,
            for a mask alone.
        with_logits : bool
            Also return the mask's logits (what training and refinement start from; default True). The mask is
            computed from the decoder's factors either way (:func:`~lmac_brain.models.conditioning.gated_mask`), so
            it does not depend on this choice; False skips the logits' full-resolution softplus.

        Returns
        -------
        dict
            ``logmag`` ``[B, T, F]``; ``phase`` ``[B, T, F]`` (with ``phase=True``); ``logits`` ``[B, C]`` of the
            input; ``target`` ``[B]`` (the classes the mask explains); ``mask`` and (with ``with_logits=True``)
            ``mask_logits`` ``[B, T, F]``.

        Example
        -------
        >>> lmac, wavs = getfixture("tiny_lmac"), torch.randn(2, 8000)
        >>> with_logits, mask_only = lmac.mask_of(wavs), lmac.mask_of(wavs, phase=False, with_logits=False)
        >>> torch.equal(with_logits["mask"], mask_only["mask"]), sorted(set(with_logits) - set(mask_only))
        (True, ['mask_logits', 'phase'])
        """
        out = {}
        if phase:
            logmag, out["phase"] = self.analyse(wavs)
        else:
            logmag = self.frontend.log_magnitude(wavs)
        with torch.no_grad():
            logits, reps = self.classify(logmag)
        if not self.conditional:  # it explains the decision, whatever is asked
            explained = logits.argmax(dim=-1)
        else:
            explained = target(logits) if callable(target) else resolve_target(target, logits)
        factors = self.mask_factors(reps, logmag, explained)
        if with_logits:
            out["mask_logits"] = gated_logits(*factors)
        overwrite = not with_logits and not factors[0].requires_grad  # the logits are not returned: reuse them
        out.update(logmag=logmag, logits=logits, target=explained, mask=self._binarise(gated_mask(*factors, overwrite)))
        return out

    @torch.no_grad()
    def masks_for_classes(self, wavs: torch.Tensor, classes: Union[torch.Tensor, Callable]) -> Dict[str, torch.Tensor]:
        """Conditional decoder only: masks for ``K`` classes per item with one classifier pass.

        ``classes`` is ``[B, K]`` class indices, or a callable mapping the logits ``[B, C]`` to them (e.g.
        the top ``K``). The classifier runs once; so does the decoder, whose features do not depend on the
        class: each class costs a dot product of its code with the decoder's maps (``lmac explain --top-k K``
        in one pass).

        Returns
        -------
        dict
            ``logmag``, ``phase``, ``logits`` as :meth:`mask_of`; ``classes`` ``[B, K]``; ``masks``
            ``[K, B, T, F]``.

        Example
        -------
        >>> from lmac_brain.models.decoder import LMACDecoder, rep_channels
        >>> fe, clf = getfixture("tiny_lmac").frontend, getfixture("tiny_lmac").classifier  # 3 classes
        >>> kind = dict(hidden=4, out_channels=2, conditional=True, class_code=4, spec_gain=False)
        >>> decoder = LMACDecoder(rep_channels(clf.embedding_model), **kind)
        >>> lmac = LMAC(fe, clf, decoder).eval()
        >>> print(lmac.masks_for_classes(torch.randn(2, 8000), torch.tensor([[0, 1], [2, 0]]))["masks"].shape)
        torch.Size([2, 2, 44, 513])
        """
        if not self.conditional:
            raise ValueError("masks_for_classes needs a conditional decoder; refine the decision's mask instead.")
        logmag, phase = self.analyse(wavs)
        logits, reps = self.classify(logmag)
        classes = (classes(logits) if callable(classes) else torch.as_tensor(classes)).to(logits.device)
        n, k = classes.shape
        directions, biases = self.classifier.class_directions(classes.reshape(-1))
        condition = (directions.view(n, k, -1), biases.view(n, k))
        masks = self._binarise(
            gated_mask(*self.decoder.class_factors(reps, logmag, condition), overwrite=True)
        )  # [B, K, T, F]
        return {"logmag": logmag, "phase": phase, "logits": logits, "classes": classes, "masks": masks.transpose(0, 1)}

    def forward(self, wavs: torch.Tensor, target: Union[Target, Callable] = None) -> Dict[str, torch.Tensor]:
        """Run the whole chain (training and evaluation); ``target`` as in :meth:`mask_of`.

        Returns
        -------
        dict
            What :meth:`mask_of` returns, plus ``logits_in`` and ``logits_out`` ``[B, C]`` of the
            masked-in and masked-out inputs. Gradients reach the decoder only.
        """
        out = self.mask_of(wavs, target)
        out["logits_in"], _ = self.classify(self.apply_mask(out["logmag"], out["mask"]))
        out["logits_out"], _ = self.classify(self.apply_mask(out["logmag"], 1.0 - out["mask"]))
        return out

    def budget_logits(
        self,
        out: Dict[str, torch.Tensor],
        budgets: Sequence[float],
        temperature: float = 0.1,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Logits of the kept and of the removed part at each budget, for the matched-budget objective.

        The top ``q`` of the ranking (:meth:`rank_scores`; the mask logits when ``rank_power`` is None)
        is relaxed by :func:`~lmac_brain.explain.budget_masks.soft_keep_top`; the results are stacked budget-major,
        ``[Q*B, C]`` each (gradients reach the decoder).

        Arguments
        ---------
        out : dict
            What :meth:`forward` (or :meth:`mask_of`) returned (``logmag``, ``mask_logits``).
        budgets : sequence of float
            Shares of the bins kept, each in ``(0, 1)``.
        temperature : float
            Softness of the relaxation.

        Example
        -------
        >>> from lmac_brain.models.classifier import Cnn14
        >>> from lmac_brain.models.decoder import LMACDecoder, rep_channels
        >>> emb = Cnn14(80, 32, 0.125, return_reps=True)
        >>> decoder = LMACDecoder(rep_channels(emb), hidden=8, out_channels=4)
        >>> lmac = LMAC(Frontend(), AudioClassifier(emb, torch.nn.Linear(32, 5)), decoder)
        >>> kept, removed = lmac.budget_logits(lmac.mask_of(torch.randn(2, 16000)), [0.1, 0.3])
        >>> print(kept.shape, kept.requires_grad)
        torch.Size([4, 5]) True
        """
        scores = out["mask_logits"]
        if self.rank_power is not None:  # log of rank_scores (same order), finite where |X| = 0
            scores = self.rank_power * torch.nn.functional.logsigmoid(scores) + out["logmag"].clamp(min=1e-6).log()
        masks = torch.cat([soft_keep_top(scores, q, temperature) for q in budgets])
        logmag = out["logmag"].repeat(len(budgets), 1, 1)
        kept, _ = self.classify(self.apply_mask(logmag, masks))
        removed, _ = self.classify(self.apply_mask(logmag, 1.0 - masks))
        return kept, removed

    @torch.no_grad()
    def explain(self, wavs: torch.Tensor, target=None) -> torch.Tensor:
        """Masks ``[B, T, F]`` in ``[0, 1]`` explaining the classifier on ``wavs`` ``[B, N]``.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, N]`` waveforms at the front end's sample rate.
        target : int, sequence of int or torch.Tensor, optional
            Class(es) to explain, one for all or one per item. None (default) explains the classifier's decision
            with one decoder pass; other classes are explained by refining the decoder's mask on the L-MAC
            objective (:mod:`lmac_brain.explain.refine`).

        Returns
        -------
        torch.Tensor
            ``[B, T, F]``.
        """
        from lmac_brain.explain.refine import targeted_masks

        return targeted_masks(self, wavs, target, phase=False)["mask"]
