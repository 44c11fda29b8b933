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

from typing import Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from lmac_brain.models.conditioning import (
    TIME_GATE_INIT,
    check_class_options,
    class_input,
    code_logits,
    gate_logits,
    gated_logits,
    gated_mask,
)
from lmac_brain.models.passes import in_passes

PARTS = ("time_gate", "fine_channels", "coarse_blocks")
"""The optional parts of :class:`LMACDecoder` that training can leave out for a while (:meth:`LMACDecoder.use_parts`),
named by the constructor option that adds them."""


def rep_channels(embedding_model: torch.nn.Module) -> List[int]:
    """Channel counts of the block outputs an :class:`~lmac_brain.models.classifier.Cnn14` returns (6, 5, 4, 3).

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> rep_channels(Cnn14(80, 512, width=0.25))
    [512, 256, 128, 64]
    """
    return list(reversed(embedding_model.channels))[:4]


class LMACDecoder(torch.nn.Module):
    """Mask decoder over the classifier's block outputs.

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
        self.lateral = torch.nn.ModuleList(torch.nn.Conv2d(c, hidden, 1) for c in self.rep_channels[:4])
        self.smooth = torch.nn.Sequential(
            torch.nn.Conv2d(hidden, hidden, 3, padding=1), torch.nn.BatchNorm2d(hidden), torch.nn.ReLU()
        )
        self.coarse = torch.nn.ModuleList(
            torch.nn.Sequential(
                torch.nn.Conv2d(hidden, hidden, 3, padding=2**i, dilation=2**i),
                torch.nn.ReLU(),
                torch.nn.Conv2d(hidden, hidden, 1),
            )
            for i in range(coarse_blocks)
        )
        for block in self.coarse:  # identity at the start
            torch.nn.init.zeros_(block[2].weight)
            torch.nn.init.zeros_(block[2].bias)
        self.reduce = torch.nn.Conv2d(hidden, out_channels, 1)
        for module in (self.smooth, self.coarse, self.reduce):  # they run channels-last (see _head_input)
            module.to(memory_format=torch.channels_last)
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
            self.code = torch.nn.Linear(self.rep_channels[0] + 1, class_code, bias=False)  # no class-free part
        self.mel_to_linear = torch.nn.Linear(n_mels, n_freqs)
        if spec_gain:  # per-frequency weight of log1p|X| added to the logits at full resolution
            self.spec_gain = torch.nn.Parameter(torch.zeros(n_freqs))
        if time_gate:  # (a, b) of sigmoid(a * z_c(t) + b)
            self.gate = torch.nn.Parameter(torch.tensor(TIME_GATE_INIT))
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

    def _check(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> None:
        if len(reps) < 4:
            raise ValueError(f"Expected at least 4 block outputs (deepest first), got {len(reps)}.")
        if logmag.dim() != 3 or logmag.shape[-1] != self.n_freqs:
            raise ValueError(f"Expected log-magnitude [B, T, {self.n_freqs}], got {tuple(logmag.shape)}.")

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
        """What the head reads, in channels-last layout: the coarse maps ``[B, out_channels, T, n_mels]``, and
        ``Mel(log1p|X|)`` with the fine features, ``[B, 1 + fine_channels, T, n_mels]``."""
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
        # [B, 1, T, M] with channels-last strides. The convolutions at T x n_mels run in that layout: 2-3x
        # faster with oneDNN on a CPU for these few channels (the fine stack's first convolution also gets it
        # from its weights).
        mel = self.linear_to_mel(logmag).unsqueeze(-1).permute(0, 3, 1, 2)
        if not self._uses("fine_channels"):
            return h, mel
        return h, torch.cat([mel, self.fine(mel)], dim=1).contiguous(memory_format=torch.channels_last)
