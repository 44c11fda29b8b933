"""The L-MAC decoder: classifier block outputs (+ the input spectrogram) -> mask logits ``[B, T, F]``.

Unlike the reference decoder (SpeechBrain's ``CNN14PSI_stft``: nine transposed convolutions, 236.7 M
parameters at full width, hard-wired to CNN14 channel counts and to 5 s inputs), this decoder

* works for any input length: every upsampling is an interpolation to the *exact* size of the next
  feature map, and the last one to the exact ``T x n_mels`` grid of the input;
* takes its shapes from the classifier (:func:`rep_channels` reads them off the embedding model);
* is small and cheap: a feature-pyramid top-down path (1x1 laterals, one 3x3 convolution) with
  ``hidden`` channels, upsampled to the classifier's ``T x n_mels`` grid, where a 3x3 convolution also
  sees a learned mel-like projection of ``log1p|X|``; a learned mel -> linear frequency map; and a
  learned per-frequency weight of ``log1p|X|`` added at full ``T x F`` resolution so that mask edges
  can follow the input's time-frequency structure. No convolution runs at full resolution: small
  convolutions on large grids are what makes a decoder slow on a CPU;
* can be told the class it explains (``conditional``, :mod:`~lmac_brain.models.conditioning`), through a
  class code and, optionally, a gate over time read off the classifier's own evidence for that class
  (``time_gate``): the class code chooses *which frequencies* carry the class, the gate *when* the
  classifier found it.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import List, Sequence

import torch
import torch.nn.functional as F

from lmac_brain.models.conditioning import TIME_GATE_INIT, check_class_options
from lmac_brain.models.mask_head import PARTS, MaskHead, top_down_path

__all__ = ["LMACDecoder", "PARTS", "rep_channels"]


def rep_channels(embedding_model: torch.nn.Module) -> List[int]:
    """Channel counts of the block outputs an :class:`~lmac_brain.models.classifier.Cnn14` returns (6, 5, 4, 3).

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> rep_channels(Cnn14(80, 512, width=0.25))
    [512, 256, 128, 64]
    """
    return list(reversed(embedding_model.channels))[:4]


class LMACDecoder(MaskHead):
    """Mask decoder over CNN14's block outputs (the head it shares with the other decoders: :class:`MaskHead`).

    Arguments
    ---------
    rep_channels : sequence of int
        Channels of the block outputs, deepest first (see :func:`rep_channels`): the top-down path reads
        the first four (blocks 6-3); any further ones (folders exported before list six) are ignored.
    n_mels : int
        Mel bins of the classifier input (the frequency axis of the block outputs).
    n_freqs : int
        Linear frequency bins ``F`` of the mask.
    hidden : int
        Channels of the top-down path.
    out_channels : int
        Channels at the ``T x n_mels`` resolution.
    fine_channels : int
        Channels of a two-layer convolution stack on the input's mel-like projection at the full
        ``T x n_mels`` resolution, whose features join the head: capacity to decide at the input's own
        resolution rather than at the classifier's 1/8 grid (0: none, the original decoder).
    coarse_blocks : int
        Residual blocks on the top-down path at its finest grid (1/8 of ``T x n_mels``, 1/64 of its cells:
        cheap), after its 3x3 convolution: each adds ``conv1x1(relu(conv3x3(h)))`` to ``h``, the ``i``-th 3x3
        dilated by ``2**i`` (0: none, the original decoder's single nonlinearity between the classifier's
        features and the maps). Their 1x1 convolutions start at zero (the identity), as do the head's weights on
        the fine features: a decoder with these parts starts as the decoder without them, and so does a part that
        training turns on later (:meth:`use_parts`).
    spec_gain : bool
        Add a learned per-frequency multiple of ``log1p|X|`` to the logits at full ``T x F`` resolution
        (the original decoder's only full-resolution term; it makes masks follow loudness).
    conditional : bool
        Class-conditional decoder: ``forward`` also takes the explained class as the classifier's head
        sees it (:meth:`~lmac_brain.models.classifier.AudioClassifier.class_directions`: a direction ``w_c`` in
        embedding space and a bias ``b_c``), which reaches the mask only through its class code (below) and,
        optionally, the time gate (:mod:`~lmac_brain.models.conditioning`). Needs ``class_code > 0``.
        False: the decoder of the paper, which explains the decision it is not told about.
    class_code : int
        0 (default: an unconditional decoder) or, for a conditional decoder, ``K > 0``: a class-code head,
        ``K`` feature maps whose dot product with a code ``k_c`` of the class gives the mask logits
        (:func:`~lmac_brain.models.conditioning.code_logits`). The maps do not depend on the class, so masks
        for ``k`` classes cost one decoder pass plus ``k`` dot products (:meth:`class_logits`;
        ``lmac explain --top-k``). Needs ``spec_gain=False`` (a class-independent term).
    time_gate : bool
        Conditional decoder only: multiply the mask by a gate over time read off the classifier for the
        explained class, ``sigmoid(a * (e_c(t) - max_t e_c(t)) + b)`` with learned scalars ``a``, ``b``
        (initialised to ``TIME_GATE_INIT``; :func:`~lmac_brain.models.conditioning.gate_logits`).

    Example
    -------
    >>> dec = LMACDecoder([64, 32, 16, 8], n_mels=80, n_freqs=513, hidden=16, out_channels=4)
    >>> reps = [torch.rand(2, 64, 5, 2), torch.rand(2, 32, 5, 2), torch.rand(2, 16, 11, 5), torch.rand(2, 8, 22, 10)]
    >>> print(dec(reps, torch.rand(2, 187, 513)).shape)
    torch.Size([2, 187, 513])
    >>> fine = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, fine_channels=8, spec_gain=False)
    >>> print(fine(reps, torch.rand(2, 187, 513)).shape, fine.config()["fine_channels"])
    torch.Size([2, 187, 513]) 8
    >>> cond = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, class_code=8, spec_gain=False)
    >>> print(cond(reps, torch.rand(2, 187, 513), (torch.randn(2, 64), torch.zeros(2))).shape)
    torch.Size([2, 187, 513])
    >>> print(cond.class_logits(reps, torch.rand(2, 187, 513), (torch.randn(2, 3, 64), torch.zeros(2, 3))).shape)
    torch.Size([2, 3, 187, 513])
    """

    def __init__(
        self,
        rep_channels: Sequence[int],
        n_mels: int = 80,
        n_freqs: int = 513,
        hidden: int = 64,
        out_channels: int = 16,
        fine_channels: int = 0,
        coarse_blocks: int = 0,
        spec_gain: bool = True,
        conditional: bool = False,
        class_code: int = 0,
        time_gate: bool = False,
    ):
        super().__init__()
        self._config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}  # the arguments
        self._config["rep_channels"] = list(rep_channels)
        check_class_options(conditional, class_code, time_gate, spec_gain)
        self.rep_channels, self.n_mels, self.n_freqs = list(rep_channels), n_mels, n_freqs
        self.hidden, self.out_channels, self.fine_channels = hidden, out_channels, fine_channels
        self.coarse_blocks, self.time_gate = coarse_blocks, time_gate
        self.use_spec_gain, self.conditional, self.class_code = spec_gain, conditional, class_code
        self.lateral, self.smooth, self.coarse = top_down_path(self.rep_channels[:4], hidden, coarse_blocks, dims=2)
        self.reduce = torch.nn.Conv2d(hidden, out_channels, 1)
        for module in (self.smooth, self.coarse, self.reduce):  # they run channels-last (see _head_input)
            module.to(memory_format=torch.channels_last)
        self._build_head(n_mels, n_freqs, out_channels, fine_channels, class_code, self.rep_channels[0], spec_gain)
        if time_gate:  # (a, b) of sigmoid(a * z_c(t) + b)
            self.gate = torch.nn.Parameter(torch.tensor(TIME_GATE_INIT))

    def _check(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> None:
        if len(reps) < 4:
            raise ValueError(f"Expected at least 4 block outputs (deepest first), got {len(reps)}.")
        if logmag.dim() != 3 or logmag.shape[-1] != self.n_freqs:
            raise ValueError(f"Expected log-magnitude [B, T, {self.n_freqs}], got {tuple(logmag.shape)}.")

    def _coarse_maps(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> torch.Tensor:
        """The top-down path over the block outputs, ``[B, out_channels, T, n_mels]`` channels-last."""
        h = self.lateral[0](reps[0])
        for lateral, rep in zip(self.lateral[1:], reps[1:]):
            h = F.interpolate(h, size=rep.shape[-2:], mode="nearest") + lateral(rep)
        h = self.smooth(h.contiguous(memory_format=torch.channels_last))  # 15-25% faster on a CPU than NCHW here
        for block in self.coarse if self._uses("coarse_blocks") else ():
            h = h + block(h)
        h = self.reduce(h)  # [B, c, T/8, M/8]
        h = F.interpolate(
            h.contiguous(memory_format=torch.channels_last),
            size=(logmag.shape[1], self.n_mels),
            mode="bilinear",
            align_corners=False,
        )
        return h
