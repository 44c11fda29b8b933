"""The two floors every explanation must beat, behind the same verb as the explainers.

- :class:`Energy` ranks the bins by ``log1p|X|`` itself: "the loudest bins". An explanation that does
  not beat it says nothing that the spectrogram did not already show.
- :class:`Random` ranks them in a seeded random order.

Both ignore the classifier (and the class to explain); their masks are in ``[0, 1]`` so that every
metric treats them like any other method's (:mod:`lmac_brain.evaluation.evaluate`, :mod:`lmac_brain.evaluation.budget`).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import zlib

import torch

from lmac_brain.explain.targets import Target
from lmac_brain.models.classifier import AudioClassifier
from lmac_brain.models.frontend import Frontend


class Energy:
    """Mask ``log1p|X| / max log1p|X|`` per item: the loudest bins first.

    Example
    -------
    >>> fe = Frontend()
    >>> wav = torch.randn(1, 8000)
    >>> mask = Energy(fe).explain(wav)
    >>> torch.allclose(mask, fe.log_magnitude_phase(wav)[0] / fe.log_magnitude_phase(wav)[0].max())
    True
    """

    def __init__(self, frontend: Frontend, classifier: AudioClassifier = None):
        self.frontend = frontend

    def explain(self, wavs: torch.Tensor, target: Target = None) -> torch.Tensor:
        """Masks ``[B, T, F]`` for waveforms ``[B, N]`` (``target`` is accepted and ignored)."""
        with torch.no_grad():
            logmag = self.frontend.log_magnitude(wavs)
        peak = logmag.flatten(1).amax(dim=1).clamp(min=1e-12)
        return logmag / peak[:, None, None]


class Random:
    """Uniform random mask per item, seeded by ``seed`` and the item's samples.

    The same waveform gets the same mask however it is batched, so results do not depend on the batch
    size or on how items are sharded across processes.

    Example
    -------
    >>> fe = Frontend()
    >>> a, b = torch.randn(1, 8000), torch.randn(1, 8000)
    >>> alone = Random(fe).explain(a)
    >>> torch.equal(alone, Random(fe).explain(torch.cat([b, a]))[1:]), bool(((alone >= 0) & (alone < 1)).all())
    (True, True)
    """

    def __init__(self, frontend: Frontend, classifier: AudioClassifier = None, seed: int = 0):
        self.frontend = frontend
        self.seed = seed

    def explain(self, wavs: torch.Tensor, target: Target = None) -> torch.Tensor:
        """Masks ``[B, T, F]`` for waveforms ``[B, N]`` (``target`` is accepted and ignored)."""
        shape = (self.frontend.n_frames(wavs.shape[1]), self.frontend.n_freqs)
        masks = []
        for wav in wavs:
            key = zlib.crc32(wav.detach().float().cpu().contiguous().numpy().tobytes()) ^ self.seed
            generator = torch.Generator().manual_seed(key)
            masks.append(torch.rand(shape, generator=generator))
        return torch.stack(masks).to(wavs.device)
