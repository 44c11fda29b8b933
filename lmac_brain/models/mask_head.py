"""What L-MAC's mask decoders share: the head at the input's ``T x n_mels`` grid, the class code and the mel ->
linear map.

A decoder (:class:`~lmac_brain.models.decoder.LMACDecoder` for CNN14's 2-D block outputs,
:class:`~lmac_brain.models.frame_decoder.FrameDecoder` for the frame-level blocks of ECAPA-TDNN and x-vector
encoders) turns the classifier's block outputs into *coarse maps* ``[B, out_channels, T, n_mels]``
(``_coarse_maps``, its own); :class:`MaskHead` does the rest: a 3x3 convolution over the coarse maps, a learned
mel-like projection of ``log1p|X|`` and (``fine_channels``) a two-layer stack on that projection; then either
``K`` maps dotted with the explained class's code (``class_code``; :func:`~lmac_brain.models.conditioning.code_logits`)
or one map (the paper's decoder), mapped from ``n_mels`` to the ``F`` linear bins; and, with ``time_gate``, a
gate over time read off the classifier's deepest block.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from lmac_brain.models.conditioning import class_input, code_logits, gate_logits, gated_logits, gated_mask
from lmac_brain.models.passes import in_passes

PARTS = ("time_gate", "fine_channels", "coarse_blocks")
"""The optional parts of a decoder that training can leave out for a while (:meth:`MaskHead.use_parts`),
named by the constructor option that adds them."""


def top_down_path(rep_channels: Sequence[int], hidden: int, coarse_blocks: int, dims: int):
    """The start of a decoder's path over the block outputs, for 2-D maps (``dims=2``, CNN14) or frame sequences
    (``dims=1``, TDNN encoders): 1x1 laterals to ``hidden`` channels, a 3x3 convolution with batch norm and ReLU,
    and ``coarse_blocks`` residual blocks (``conv1x1(relu(conv3x3(h)))``, the ``i``-th 3x3 dilated ``2**i``)
    whose 1x1 convolutions start at zero, so that each starts as the identity.

    Returns ``(lateral, smooth, coarse)`` modules.

    Example
    -------
    >>> lateral, smooth, coarse = top_down_path([32, 16], hidden=8, coarse_blocks=2, dims=1)
    >>> h = smooth(lateral[0](torch.rand(1, 32, 40)))
    >>> len(lateral), torch.equal(h + coarse[1](h), h)
    (2, True)
    """
    conv, norm = (torch.nn.Conv1d, torch.nn.BatchNorm1d) if dims == 1 else (torch.nn.Conv2d, torch.nn.BatchNorm2d)
    lateral = torch.nn.ModuleList(conv(c, hidden, 1) for c in rep_channels)
    smooth = torch.nn.Sequential(conv(hidden, hidden, 3, padding=1), norm(hidden), torch.nn.ReLU())
    coarse = torch.nn.ModuleList(
        torch.nn.Sequential(
            conv(hidden, hidden, 3, padding=2**i, dilation=2**i), torch.nn.ReLU(), conv(hidden, hidden, 1)
        )
        for i in range(coarse_blocks)
    )
    for block in coarse:  # identity at the start
        torch.nn.init.zeros_(block[2].weight)
        torch.nn.init.zeros_(block[2].bias)
    return lateral, smooth, coarse


class MaskHead(torch.nn.Module):
    """Base of L-MAC's decoders (see the module docstring); a subclass sets the options as attributes (``n_mels``,
    ``n_freqs``, ``out_channels``, ``fine_channels``, ``coarse_blocks``, ``conditional``, ``class_code``,
    ``time_gate``, ``use_spec_gain``), builds its coarse path, calls :meth:`_build_head`, and defines
    ``_coarse_maps(reps, logmag)`` and ``_check(reps, logmag)``."""

    def _build_head(
        self,
        n_mels: int,
        n_freqs: int,
        out_channels: int,
        fine_channels: int,
        class_code: int,
        class_dim: int,
        spec_gain: bool,
    ) -> None:
        """The layers at ``T x n_mels`` and ``T x F``; ``class_dim``: the size of the head's class directions."""
        self.linear_to_mel = torch.nn.Linear(n_freqs, n_mels)
        if fine_channels:
            self.fine = torch.nn.Sequential(
                torch.nn.Conv2d(1, fine_channels, 3, padding=1),
                torch.nn.ReLU(inplace=True),
                torch.nn.Conv2d(fine_channels, fine_channels, 3, padding=1),
                torch.nn.ReLU(inplace=True),
            ).to(memory_format=torch.channels_last)
        self.head = torch.nn.Sequential(
            torch.nn.Conv2d(out_channels + 1 + fine_channels, out_channels, 3, padding=1),
            torch.nn.ReLU(inplace=True),
            torch.nn.Conv2d(out_channels, class_code or 1, 1),
        )
        with torch.no_grad():  # the head reads the fine features with weights that start at zero
            self.head[0].weight[:, out_channels + 1 :].zero_()
        if class_code:  # (w_c / |w_c|, b_c) -> the class's code
            self.code = torch.nn.Linear(class_dim + 1, class_code, bias=False)  # no class-free part
        self.mel_to_linear = torch.nn.Linear(n_mels, n_freqs)
        if spec_gain:  # per-frequency weight of log1p|X| added to the logits at full resolution
            self.spec_gain = torch.nn.Parameter(torch.zeros(n_freqs))
        self.parts_off: Tuple[str, ...] = ()

    def use_parts(self, off: Iterable[str] = ()) -> None:
        """Leave out the optional parts named in ``off`` (of :data:`PARTS`) until the next call; ``()``: all parts.

        A left-out part is skipped in the forward pass (no time gate: the mask is ``sigmoid(l)``; no fine
        features: the head reads only ``Mel(log1p|X|)`` next to the coarse maps; no residual blocks), so its
        parameters get no gradient and keep their values. A training schedule uses it to train the decoder
        without them first and add them later (``parts_off``, :mod:`~lmac_brain.training.schedule`); since they
        start as the identity or at zero weight, turning one on does not change the mask at that moment,
        except the time gate, which starts at ``TIME_GATE_INIT``. Not saved: a new decoder uses every part.

        Example
        -------
        >>> from lmac_brain.models.decoder import LMACDecoder
        >>> dec = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, fine_channels=4, coarse_blocks=1,
        ...                   spec_gain=False)
        >>> shapes = [(64, 5, 2), (32, 5, 2), (16, 11, 5), (8, 22, 10)]
        >>> reps, logmag = [torch.rand(1, *s) for s in shapes], torch.rand(1, 187, 513)
        >>> whole = dec(reps, logmag)
        >>> dec.use_parts(["fine_channels", "coarse_blocks"])
        >>> torch.allclose(dec(reps, logmag), whole, atol=1e-6)  # they start at zero weight / as the identity
        True
        >>> dec.use_parts(["time_gate"])
        Traceback (most recent call last):
        ...
        ValueError: use_parts: this decoder has no time_gate to leave out (its options: time_gate=False, ...
        """
        off = tuple(off)
        for name in off:
            if name not in PARTS:
                raise ValueError(
                    f"use_parts: {name!r} is not an optional decoder part; the parts are {', '.join(PARTS)}."
                )
            if not getattr(self, name):
                raise ValueError(
                    f"use_parts: this decoder has no {name} to leave out (its options: time_gate={self.time_gate}, "
                    f"fine_channels={self.fine_channels}, coarse_blocks={self.coarse_blocks})."
                )
        self.parts_off = off

    def _uses(self, part: str) -> bool:
        return bool(getattr(self, part)) and part not in self.parts_off

    def config(self) -> dict:
        """The constructor arguments: what an exported folder needs to rebuild this decoder."""
        return dict(self._config)

    def forward(
        self,
        reps: Sequence[torch.Tensor],
        logmag: torch.Tensor,
        condition: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
    ) -> torch.Tensor:
        """Mask logits (apply a sigmoid to get the mask, or take it from :meth:`mask`).

        Arguments
        ---------
        reps : sequence of torch.Tensor
            Block outputs ``[B, C_i, T_i, M_i]``, deepest first.
        logmag : torch.Tensor
            ``log1p|X|`` of the explained input, ``[B, T, F]``.
        condition : (torch.Tensor, torch.Tensor), optional
            For a conditional decoder (required there, ignored otherwise): the explained classes'
            directions ``[B, C_0]`` and biases ``[B]``.

        Returns
        -------
        torch.Tensor
            ``[B, T, F]`` logits.
        """
        return gated_logits(*self.factors(reps, logmag, condition))

    def mask(
        self,
        reps: Sequence[torch.Tensor],
        logmag: torch.Tensor,
        condition: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
    ) -> torch.Tensor:
        """The mask ``[B, T, F]``, ``sigmoid`` of :meth:`forward`'s logits, from the two factors (:func:`gated_mask`):
        equal up to float rounding, without the full-resolution softplus of the gated product's logits."""
        return gated_mask(*self.factors(reps, logmag, condition), overwrite=not torch.is_grad_enabled())

    def factors(
        self,
        reps: Sequence[torch.Tensor],
        logmag: torch.Tensor,
        condition: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The mask's two factors as logits: ``l`` ``[B, T, F]`` and the time gate's ``g`` ``[B, T]`` (None without a
        gate); the mask is ``sigmoid(l) * sigmoid(g)``. Arguments as :meth:`forward`.

        Large batches run in passes of fewer items (:mod:`~lmac_brain.models.passes`; the same numbers up to float
        rounding).
        """
        self._check(reps, logmag)
        if self.conditional and condition is None:
            raise ValueError("A conditional decoder needs the explained classes (condition=(directions, biases)).")
        return self._in_passes(self._factors, reps, logmag, condition)

    def _factors(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Optional[Tuple[torch.Tensor, torch.Tensor]]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        hidden = self._head_hidden(reps, logmag)
        if self.class_code:
            logits = code_logits(
                hidden, self.code(class_input(*condition)).unsqueeze(1), self.head[2], self.mel_to_linear
            )[:, 0]
        else:
            h = self.mel_to_linear(self.head[2](hidden).squeeze(1))  # [B, T, F]
            logits = h + self.spec_gain * logmag if self.use_spec_gain else h
        gate = (
            gate_logits(self.gate, reps[0], condition[0].unsqueeze(1), logmag.shape[1])[:, 0]
            if self._uses("time_gate")
            else None
        )
        return logits, gate

    def class_logits(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Conditional decoder: mask logits ``[B, k, T, F]`` for ``k`` classes per item.

        ``condition``: directions ``[B, k, C_0]`` and biases ``[B, k]``. The decoder runs once and each class
        costs a dot product of its code with the ``K`` maps: the same logits as :meth:`forward` for each
        class alone.
        """
        return gated_logits(*self.class_factors(reps, logmag, condition))

    def class_factors(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Tuple[torch.Tensor, torch.Tensor]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """:meth:`factors` for ``k`` classes per item (``[B, k, T, F]`` and ``[B, k, T]``); arguments as
        :meth:`class_logits`."""
        if not self.conditional:
            raise ValueError("class_logits needs a conditional decoder.")
        self._check(reps, logmag)
        return self._in_passes(self._class_factors, reps, logmag, condition)

    def _class_factors(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Tuple[torch.Tensor, torch.Tensor]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        directions, biases = condition
        n, k = biases.shape
        codes = self.code(class_input(directions.reshape(n * k, -1), biases.reshape(-1)))
        logits = code_logits(self._head_hidden(reps, logmag), codes.view(n, k, -1), self.head[2], self.mel_to_linear)
        gate = gate_logits(self.gate, reps[0], directions, logmag.shape[1]) if self._uses("time_gate") else None
        return logits, gate

    def _in_passes(
        self, fn, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """:func:`~lmac_brain.models.passes.in_passes` over the head's widest ``T x n_mels`` features."""
        widest = max(self.out_channels, 1 + self.fine_channels)
        return in_passes(fn, reps, logmag, condition, logmag.shape[1] * self.n_mels * widest * logmag.element_size())

    def _head_hidden(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> torch.Tensor:
        """The head's 3x3 convolution and ReLU, ``[B, out_channels, T, n_mels]`` (what its last 1x1 layer reads).

        The convolution runs as two, one over the coarse maps and one over the rest of the head's input, summed:
        the same as one convolution over their concatenation up to float rounding, without copying the whole
        ``T x n_mels`` input into that concatenation on every call.
        """
        coarse, rest = self._head_input(reps, logmag)
        conv, split = self.head[0], coarse.shape[1]
        # contiguous copies of the two weight slices (a few thousand numbers): a strided weight costs oneDNN more
        out = F.conv2d(coarse, conv.weight[:, :split].contiguous(), conv.bias, padding=conv.padding)
        rest_weight = conv.weight[:, split : split + rest.shape[1]].contiguous()  # without the fine features: Mel only
        out = out.add_(F.conv2d(rest, rest_weight, None, padding=conv.padding))
        return self.head[1](out)

    def _head_input(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """What the head reads, in channels-last layout: the coarse maps ``[B, out_channels, T, n_mels]``
        (:meth:`_coarse_maps`), and ``Mel(log1p|X|)`` with the fine features, ``[B, 1 + fine_channels, T, n_mels]``."""
        h = self._coarse_maps(reps, logmag)
        # [B, 1, T, M] with channels-last strides. The convolutions at T x n_mels run in that layout: 2-3x
        # faster with oneDNN on a CPU for these few channels (the fine stack's first convolution also gets it
        # from its weights).
        mel = self.linear_to_mel(logmag).unsqueeze(-1).permute(0, 3, 1, 2)
        if not self._uses("fine_channels"):
            return h, mel
        return h, torch.cat([mel, self.fine(mel)], dim=1).contiguous(memory_format=torch.channels_last)
