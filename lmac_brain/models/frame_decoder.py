"""The L-MAC decoder for frame-level encoders (ECAPA-TDNN, x-vector): block outputs ``[B, C_i, T]`` -> mask logits.

CNN14's blocks keep a frequency axis, so :class:`~lmac_brain.models.decoder.LMACDecoder` can upsample their
maps to the ``T x n_mels`` grid. The blocks of a TDNN encoder are ``channels x time``: frequency has been
folded into channels by its first layer. :class:`FrameDecoder` reads it back out of them: 1x1 laterals over
every block (they share the features' frame rate), a temporal convolution with batch norm, optional dilated
residual blocks over time, then one 1x1 convolution from ``hidden`` channels to ``out_channels x n_mels``
(frequency from channels), whose maps join the head that every L-MAC decoder shares
(:class:`~lmac_brain.models.mask_head.MaskHead`: the input's mel-like projection and fine stack, the class
code, the mel -> linear map). The decoder is class-conditional (told the class through the classifier's head,
:func:`~lmac_brain.models.classifier.head_class_directions`); it has no time gate (the pooled head of these
encoders gives no per-frame class evidence in its own units).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from lmac_brain.models.mask_head import MaskHead, top_down_path


class FrameDecoder(MaskHead):
    """Class-conditional mask decoder over a frame-level encoder's block outputs.

    Arguments
    ---------
    rep_channels : sequence of int
        Channels of the block outputs, deepest first
        (:attr:`~lmac_brain.models.encoder_classifier.EncoderAudioClassifier.rep_channels`).
    class_dim : int
        Size of the head's class directions (the embedding size for a cosine head).
    n_mels : int
        Mel bins of the head's grid (the classifier's filterbank size).
    n_freqs : int
        Linear frequency bins ``F`` of the mask.
    hidden : int
        Channels of the temporal path.
    out_channels : int
        Maps at the ``T x n_mels`` grid.
    fine_channels, coarse_blocks : int
        The fine stack at ``T x n_mels`` (:class:`~lmac_brain.models.mask_head.MaskHead`) and dilated residual
        blocks over time (``i``-th dilated ``2**i``); both start as the identity / at zero weight.
    class_code : int
        ``K``: maps dotted with the class's code.

    Example
    -------
    >>> dec = FrameDecoder([48, 16, 16], class_dim=8, n_mels=20, n_freqs=201, hidden=8, out_channels=4,
    ...                    fine_channels=2, coarse_blocks=1, class_code=4)
    >>> reps, logmag = [torch.rand(2, c, 51) for c in (48, 16, 16)], torch.rand(2, 51, 201)
    >>> print(dec(reps, logmag, (torch.randn(2, 8), torch.zeros(2))).shape)
    torch.Size([2, 51, 201])
    >>> print(dec.class_logits(reps, logmag, (torch.randn(2, 3, 8), torch.zeros(2, 3))).shape)
    torch.Size([2, 3, 51, 201])
    """

    def __init__(
        self,
        rep_channels: Sequence[int],
        class_dim: int,
        n_mels: int = 80,
        n_freqs: int = 201,
        hidden: int = 64,
        out_channels: int = 16,
        fine_channels: int = 8,
        coarse_blocks: int = 2,
        class_code: int = 16,
    ):
        super().__init__()
        self._config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        self._config["rep_channels"] = list(rep_channels)
        if class_code < 1:
            raise ValueError(f"FrameDecoder is class-conditional: class_code must be > 0, got {class_code}.")
        self.rep_channels, self.n_mels, self.n_freqs = list(rep_channels), n_mels, n_freqs
        self.hidden, self.out_channels, self.fine_channels = hidden, out_channels, fine_channels
        self.coarse_blocks, self.class_code = coarse_blocks, class_code
        self.conditional, self.time_gate, self.use_spec_gain = True, False, False
        self.lateral, self.smooth, self.coarse = top_down_path(self.rep_channels, hidden, coarse_blocks, dims=1)
        self.to_freq = torch.nn.Conv1d(hidden, out_channels * n_mels, 1)
        self._build_head(n_mels, n_freqs, out_channels, fine_channels, class_code, class_dim, spec_gain=False)

    def _check(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> None:
        if len(reps) != len(self.rep_channels) or any(
            r.dim() != 3 or r.shape[1] != c for r, c in zip(reps, self.rep_channels)
        ):
            got = [tuple(r.shape) for r in reps]
            raise ValueError(
                f"Expected block outputs [B, C, T] with C = {self.rep_channels} (deepest first), got {got}."
            )
        if logmag.dim() != 3 or logmag.shape[-1] != self.n_freqs:
            raise ValueError(f"Expected log-magnitude [B, T, {self.n_freqs}], got {tuple(logmag.shape)}.")

    def _coarse_maps(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> torch.Tensor:
        """``[B, out_channels, T, n_mels]`` channels-last: the temporal path, frequency read out of its channels."""
        n_frames = logmag.shape[1]
        h = None
        for lateral, rep in zip(self.lateral, reps):
            if rep.shape[-1] != n_frames:  # a block at another frame rate: to the STFT's frames
                rep = F.interpolate(rep, size=n_frames, mode="linear", align_corners=False)
            h = lateral(rep) if h is None else h + lateral(rep)
        h = self.smooth(h)
        for block in self.coarse if self._uses("coarse_blocks") else ():
            h = h + block(h)
        b = h.shape[0]
        maps = self.to_freq(h).view(b, self.out_channels, self.n_mels, n_frames).transpose(2, 3)  # [B, c, T, M]
        return maps.contiguous(memory_format=torch.channels_last)


def frame_decoder_for(
    classifier,
    frontend,
    hidden: int = 64,
    out_channels: int = 16,
    fine_channels: int = 8,
    coarse_blocks: int = 2,
    class_code: int = 16,
) -> FrameDecoder:
    """A :class:`FrameDecoder` shaped for ``classifier``
    (:class:`~lmac_brain.models.encoder_classifier.EncoderAudioClassifier`: its block channels and class-direction
    size) and ``frontend`` (its mel bins and ``F``); the other arguments as :class:`FrameDecoder`'s. What a
    config builds (``decoder: !apply:lmac_brain.models.frame_decoder.frame_decoder_for``).

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
    >>> from lmac_brain.models.encoder_classifier import EncoderAudioClassifier, EncoderClassifierModel
    >>> model = EncoderClassifierModel(Fbank(n_mels=20), ECAPA_TDNN(20, channels=[16, 16, 16, 16, 48],
    ...                                lin_neurons=8), Classifier(8, out_neurons=3)).eval()
    >>> dec = frame_decoder_for(EncoderAudioClassifier(model), model.frontend(), hidden=8, out_channels=4)
    >>> print(dec.config()["rep_channels"], dec.config()["class_dim"], dec.n_mels, dec.n_freqs)
    [48, 16, 16, 16, 16] 8 20 201
    """
    class_dim = classifier.class_directions(torch.tensor([0]))[0].shape[1]
    return FrameDecoder(
        classifier.rep_channels,
        class_dim,
        n_mels=frontend.n_mels,
        n_freqs=frontend.n_freqs,
        hidden=hidden,
        out_channels=out_channels,
        fine_channels=fine_channels,
        coarse_blocks=coarse_blocks,
        class_code=class_code,
    )
