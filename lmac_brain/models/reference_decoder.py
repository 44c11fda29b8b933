"""SpeechBrain's reference L-MAC decoder (``CNN14PSI_stft``) behind the interface of ours.

The decoder of the L-MAC paper's recipe is SpeechBrain's ``CNN14PSI_stft``: nine transposed convolutions,
236.7 M parameters at full width, hard-wired to CNN14 channel counts and to 5 s inputs.
:class:`ReferenceDecoder` lets it stand in for :class:`~lmac_brain.models.decoder.LMACDecoder` so that the
two can be compared on the same classifier (``bench/decoder_step.py``).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Sequence, Tuple

import torch


class ReferenceDecoder(torch.nn.Module):
    """Adapter that lets SpeechBrain's reference decoder (``CNN14PSI_stft``) stand in for ours.

    ``CNN14PSI_stft`` reads only the block outputs and returns ``[B, 1, T', 513]`` with ``T' = T - 6``
    at 5 s (it drops the last frames), and crashes unless ``T mod 32`` is in 8..15. This adapter gives it
    our decoder's interface: it repeats the last predicted frame to reach exactly ``T`` frames, and turns
    the crash into a clear error. Use it to compare the two decoders on the same classifier.

    Arguments
    ---------
    decoder : torch.nn.Module
        A ``speechbrain.lobes.models.Cnn14.CNN14PSI_stft`` (``dim`` = the classifier's ``emb_dim``, which
        must be twice the channels of block 5, as in CNN14 at any width with ``emb_dim = 2048 * width``).

    Example
    -------
    >>> from speechbrain.lobes.models.Cnn14 import CNN14PSI_stft
    >>> from lmac_brain.models.classifier import Cnn14
    >>> emb = Cnn14(80, 128, width=0.0625, return_reps=True)
    >>> _, reps = emb(torch.rand(1, 431, 80))
    >>> print(ReferenceDecoder(CNN14PSI_stft(dim=128))(reps, torch.rand(1, 431, 513)).shape)
    torch.Size([1, 431, 513])
    """

    def __init__(self, decoder: torch.nn.Module):
        super().__init__()
        self.decoder = decoder

    def forward(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> torch.Tensor:
        """Mask logits ``[B, T, F]`` from block outputs (``logmag`` only sets ``T``)."""
        n_frames = logmag.shape[1]
        try:
            out = self.decoder(list(reps[:4])).squeeze(1)
        except RuntimeError as err:
            raise ValueError(
                f"SpeechBrain's CNN14PSI_stft cannot decode these block outputs (input of T={n_frames} "
                "frames). It needs T mod 32 in 8..15 (e.g. 5 s at hop 186) and dim = emb_dim = 2x, 4x, "
                f"8x the channels of blocks 5, 4, 3; use LMACDecoder for any length and width. ({err})"
            ) from err
        if out.shape[1] < n_frames:
            out = torch.cat([out, out[:, -1:].expand(-1, n_frames - out.shape[1], -1)], dim=1)
        return out[:, :n_frames]

    def factors(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> Tuple[torch.Tensor, None]:
        """:meth:`~lmac_brain.models.decoder.LMACDecoder.factors`' interface: the logits, and no time gate."""
        return self.forward(reps, logmag), None
