"""Attribution baselines behind the project's one explainer verb, ``explain(wavs, target=None) -> mask``.

Gradient methods come from Captum (a dependency; nothing here re-implements them). Every method is
computed with respect to the same input as L-MAC's mask, ``log1p|X|`` ``[B, T, F]``, through
:class:`SpectrogramClassifier` (front end mel projection + classifier). Attributions are turned into
soft masks exactly as in the paper: absolute value, divided by each example's maximum; metrics and
listenable audio then treat them like L-MAC masks.

``target`` follows Captum's grammar (:mod:`lmac_brain.explain.targets`): ``None`` (the classifier's own decision),
an ``int`` for the whole batch, or a list / 1-D tensor with one class per example.

Methods (paper settings as defaults): :class:`Saliency`, :class:`SmoothGrad` (``NoiseTunnel`` over
Saliency, 50 samples), :class:`IntegratedGradients` (200 steps, zero baseline), :class:`GradCAM`
(last conv block, upsampled to ``T x F``), :class:`GuidedBackprop`, :class:`GuidedGradCAM`,
:class:`GradientSHAP`, and the model-agnostic :class:`RISE` (random time-frequency masks; not in
Captum, so implemented here).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import captum.attr as ca
import numpy as np
import torch
import torch.nn.functional as F

from lmac_brain.explain.targets import Target, resolve_target
from lmac_brain.models.classifier import AudioClassifier
from lmac_brain.models.frontend import Frontend


class SpectrogramClassifier(torch.nn.Module):
    """``forward(log1p|X|) -> logits``: the classifier seen from the mask's domain.

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> clf = AudioClassifier(Cnn14(80, 32, 0.125, return_reps=True), torch.nn.Linear(32, 3))
    >>> print(SpectrogramClassifier(Frontend(), clf)(torch.rand(2, 50, 513)).shape)
    torch.Size([2, 3])
    """

    def __init__(self, frontend: Frontend, classifier: AudioClassifier):
        super().__init__()
        self.frontend = frontend
        self.classifier = classifier

    def forward(self, logmag: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]`` of ``log1p|X|`` ``[B, T, F]``.

        Noise-based methods (SmoothGrad, GradientSHAP) perturb ``log1p|X|`` below zero, where
        ``log1p(Mel(expm1(.)))`` is undefined (NaN); inputs are clamped at 0, the smallest magnitude.
        """
        return self.classifier(self.frontend.features(logmag.clamp(min=0)))[0]


def to_mask(attribution: torch.Tensor) -> torch.Tensor:
    """``|a| / max|a|`` per example (all-zero attributions stay zero), in ``[0, 1]``.

    Example
    -------
    >>> to_mask(torch.tensor([[[-2.0, 1.0]], [[0.0, 0.0]]]))
    tensor([[[1.0000, 0.5000]],
    <BLANKLINE>
            [[0.0000, 0.0000]]])
    """
    a = attribution.detach().abs()
    peak = a.flatten(1).amax(dim=1).clamp(min=torch.finfo(a.dtype).tiny).view(-1, *([1] * (a.dim() - 1)))
    return (a / peak).clamp(0, 1)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's and numpy's global generators seeded, restoring both afterwards.

    Captum's noise-based methods draw from both (``GradientShap`` uses ``np.random``); seeding per call
    makes an explanation independent of what ran before.

    Example
    -------
    >>> with seeded(0):
    ...     a = torch.rand(1)
    >>> with seeded(0):
    ...     b = torch.rand(1)
    >>> bool(a == b)
    True
    """
    np_state = np.random.get_state()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)


class Explainer:
    """Base of the baselines: holds the model, implements ``explain`` around ``_attribute``.

    Arguments
    ---------
    frontend : Frontend
        Shared time-frequency front end.
    classifier : AudioClassifier
        The classifier to explain (used in eval mode, never changed).
    """

    def __init__(self, frontend: Frontend, classifier: AudioClassifier):
        self.frontend = frontend
        self.classifier = classifier.eval()
        self.model = SpectrogramClassifier(frontend, classifier).eval()

    def explain(self, wavs: torch.Tensor, target: Target = None) -> torch.Tensor:
        """Soft masks ``[B, T, F]`` in ``[0, 1]`` for waveforms ``[B, N]``.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, N]`` at the front end's sample rate.
        target : None, int, list or torch.Tensor
            Class(es) to explain (Captum's grammar; ``None``: the classifier's decision).

        Returns
        -------
        torch.Tensor
            ``[B, T, F]``.
        """
        with torch.no_grad():
            logmag = self.frontend.log_magnitude(wavs)
            target = resolve_target(target, self.model(logmag))
        return to_mask(self._attribute(logmag, target))

    def _attribute(self, logmag: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Saliency(Explainer):
    """Gradient of the target logit w.r.t. ``log1p|X|`` (Simonyan et al., 2014), via ``captum.attr.Saliency``.

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> clf = AudioClassifier(Cnn14(80, 32, 0.125, return_reps=True), torch.nn.Linear(32, 3))
    >>> print(Saliency(Frontend(), clf).explain(torch.randn(2, 8000), target=1).shape)
    torch.Size([2, 44, 513])
    """

    def _attribute(self, logmag, target):
        return ca.Saliency(self.model).attribute(logmag, target=target, abs=True)


class SmoothGrad(Explainer):
    """Saliency averaged over noisy copies of the input: ``captum.attr.NoiseTunnel(Saliency)``.

    Arguments
    ---------
    n_samples : int
        Noisy copies (paper: 50).
    stdev : float
        Noise standard deviation, as a fraction of each example's ``log1p|X|`` range.
    batch_size : int
        Copies evaluated at once.
    seed : int
        Seed of the noise (each example is explained with the same seed, so batching does not
        change its explanation).
    """

    def __init__(
        self, frontend, classifier, n_samples: int = 50, stdev: float = 0.15, batch_size: int = 10, seed: int = 0
    ):
        super().__init__(frontend, classifier)
        self.n_samples, self.stdev, self.batch_size, self.seed = n_samples, stdev, batch_size, seed

    def _attribute(self, logmag, target):
        tunnel = ca.NoiseTunnel(ca.Saliency(self.model))
        masks = []
        for i in range(logmag.shape[0]):  # the noise level is relative to each example's range
            x = logmag[i : i + 1]
            sigma = float(self.stdev * (x.max() - x.min()))
            with seeded(self.seed):
                masks.append(
                    tunnel.attribute(
                        x,
                        nt_type="smoothgrad",
                        nt_samples=self.n_samples,
                        nt_samples_batch_size=self.batch_size,
                        stdevs=sigma,
                        target=target[i : i + 1],
                        abs=True,
                    )
                )
        return torch.cat(masks)


class IntegratedGradients(Explainer):
    """Integrated gradients from an all-zero ``log1p|X|`` (silence), ``captum.attr.IntegratedGradients``.

    Arguments
    ---------
    n_steps : int
        Riemann steps (paper: 200).
    internal_batch_size : int
        Steps evaluated at once.
    """

    def __init__(self, frontend, classifier, n_steps: int = 200, internal_batch_size: int = 50):
        super().__init__(frontend, classifier)
        self.n_steps, self.internal_batch_size = n_steps, internal_batch_size

    def _attribute(self, logmag, target):
        ig = ca.IntegratedGradients(self.model)
        return ig.attribute(
            logmag, baselines=0.0, target=target, n_steps=self.n_steps, internal_batch_size=self.internal_batch_size
        )


class GradientSHAP(Explainer):
    """Expected gradients with an all-zero baseline and Gaussian input noise, ``captum.attr.GradientShap``.

    Arguments
    ---------
    n_samples : int
        Random (baseline, noise, scale) draws per example.
    stdev : float
        Input noise standard deviation (``log1p`` units).
    seed : int
        Seed of the draws (per example).
    """

    def __init__(self, frontend, classifier, n_samples: int = 50, stdev: float = 0.1, seed: int = 0):
        super().__init__(frontend, classifier)
        self.n_samples, self.stdev, self.seed = n_samples, stdev, seed

    def _attribute(self, logmag, target):
        shap = ca.GradientShap(self.model)
        out = []
        for i in range(logmag.shape[0]):  # per example, so batching does not change the draws
            with seeded(self.seed):
                out.append(
                    shap.attribute(
                        logmag[i : i + 1],
                        baselines=torch.zeros_like(logmag[:1]),
                        target=target[i : i + 1],
                        n_samples=self.n_samples,
                        stdevs=self.stdev,
                    )
                )
        return torch.cat(out)


class GuidedBackprop(Explainer):
    """Guided backpropagation (Springenberg et al., 2015) through the classifier's ReLU modules."""

    def _attribute(self, logmag, target):
        return ca.GuidedBackprop(self.model).attribute(logmag, target=target)


def _last_conv_block(classifier: AudioClassifier) -> torch.nn.Module:
    emb = classifier.embedding_model
    return getattr(emb, f"conv_block{len(emb.channels)}")


def _upsample(cam: torch.Tensor, logmag: torch.Tensor) -> torch.Tensor:
    """``[B, 1, T', M']`` layer map -> ``[B, T, F]`` by bilinear interpolation over both axes."""
    return ca.LayerAttribution.interpolate(cam, tuple(logmag.shape[1:]), interpolate_mode="bilinear").squeeze(1)


class GradCAM(Explainer):
    """Grad-CAM (Selvaraju et al., 2017) on the last conv block, upsampled to ``T x F``.

    Captum's ``LayerGradCam`` with ``relu_attributions=True`` (the paper's ReLU). The block's grid is on
    the mel axis; it is interpolated straight onto the linear-frequency grid, as in the L-MAC paper.
    """

    def _attribute(self, logmag, target):
        cam = ca.LayerGradCam(self.model, _last_conv_block(self.classifier))
        return _upsample(cam.attribute(logmag, target=target, relu_attributions=True), logmag)


class GuidedGradCAM(Explainer):
    """Guided Grad-CAM: guided backpropagation times the upsampled Grad-CAM map.

    Composed from Captum's ``GuidedBackprop`` and ``LayerGradCam``: Captum's own ``GuidedGradCam``
    upsamples to ``input.shape[2:]``, which for a ``[B, T, F]`` spectrogram is the frequency axis only.
    """

    def _attribute(self, logmag, target):
        guided = ca.GuidedBackprop(self.model).attribute(logmag, target=target)
        cam = ca.LayerGradCam(self.model, _last_conv_block(self.classifier))
        return guided * _upsample(cam.attribute(logmag, target=target, relu_attributions=True), logmag)


class RISE(Explainer):
    """RISE (Petsiuk et al., 2018): model-agnostic saliency from random time-frequency masks.

    ``n_masks`` binary grids of ``grid`` cells (each cell kept with probability ``p_keep``) are
    upsampled bilinearly with a random shift to ``T x F``, applied as ``M * log1p|X|``; a cell's saliency
    is the average target probability of the masked inputs that keep it, ``sum_i p_i M_i / (N p_keep)``.
    Deterministic for a given ``seed``.

    Arguments
    ---------
    n_masks : int
        Random masks per example.
    grid : tuple of int
        Mask resolution (time cells, frequency cells).
    p_keep : float
        Probability of keeping a cell.
    batch_size : int
        Masked inputs classified at once.
    seed : int
        Seed of the masks.

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> clf = AudioClassifier(Cnn14(80, 32, 0.125, return_reps=True), torch.nn.Linear(32, 3))
    >>> mask = RISE(Frontend(), clf, n_masks=8).explain(torch.randn(1, 8000))
    >>> print(mask.shape, float(mask.max()))
    torch.Size([1, 44, 513]) 1.0
    """

    def __init__(
        self,
        frontend,
        classifier,
        n_masks: int = 256,
        grid=(8, 8),
        p_keep: float = 0.5,
        batch_size: int = 32,
        seed: int = 0,
    ):
        super().__init__(frontend, classifier)
        self.n_masks, self.grid, self.p_keep, self.batch_size, self.seed = (
            n_masks,
            tuple(grid),
            p_keep,
            batch_size,
            seed,
        )

    def random_masks(self, n_frames: int, n_freqs: int) -> torch.Tensor:
        """``[n_masks, T, F]`` smooth random masks in ``[0, 1]`` (same for every call with this seed)."""
        gen = torch.Generator().manual_seed(self.seed)
        gt, gf = self.grid
        cell_t, cell_f = -(-n_frames // gt), -(-n_freqs // gf)  # ceil
        cells = (torch.rand(self.n_masks, 1, gt + 1, gf + 1, generator=gen) < self.p_keep).float()
        big = F.interpolate(cells, size=((gt + 1) * cell_t, (gf + 1) * cell_f), mode="bilinear", align_corners=False)
        shift_t = torch.randint(cell_t, (self.n_masks,), generator=gen)
        shift_f = torch.randint(cell_f, (self.n_masks,), generator=gen)
        return torch.stack(
            [big[i, 0, st : st + n_frames, sf : sf + n_freqs] for i, (st, sf) in enumerate(zip(shift_t, shift_f))]
        )

    @torch.no_grad()
    def _attribute(self, logmag, target):
        masks = self.random_masks(logmag.shape[1], logmag.shape[2]).to(logmag)
        out = torch.zeros_like(logmag)
        for b in range(logmag.shape[0]):
            for start in range(0, self.n_masks, self.batch_size):
                m = masks[start : start + self.batch_size]
                probs = self.model(m * logmag[b : b + 1]).softmax(dim=-1)[:, target[b]]
                out[b] += (probs.view(-1, 1, 1) * m).sum(dim=0)
        return out / (self.n_masks * self.p_keep)
