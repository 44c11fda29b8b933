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
* can be told the class it explains (``conditional``), through a class code and, optionally, a gate
  over time read off the classifier's own evidence for that class (``time_gate``): the class code
  chooses *which frequencies* carry the class, the gate *when* the classifier found it.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

PASS_BYTES = 24 * 2 ** 20
"""Most bytes of the decoder's widest ``T x n_mels`` features (all items of a pass) computed at once; larger batches
run in passes of fewer items. On a CPU, glibc's allocator maps every block above 32 MiB afresh on each call and its
pages fault in on first touch: at batch 16 of 5 s clips (35 MiB of head features) that took longer than the
decoder's arithmetic; below that size, freed blocks are reused."""

TIME_GATE_INIT = (1.0, 2.0)
"""Initial ``(a, b)`` of :class:`LMACDecoder`'s time gate ``sigmoid(a * (e(t) - max e) + b)``: the frame of
strongest class evidence keeps 88% of its mask, a frame 2 logits weaker half, 4 logits weaker 12%."""


def rep_channels(embedding_model: torch.nn.Module) -> List[int]:
    """Channel counts of the block outputs an :class:`~lmac_brain.models.classifier.Cnn14` returns (6, 5, 4, 3, 2, 1).

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> rep_channels(Cnn14(80, 512, width=0.25))
    [512, 256, 128, 64, 32, 16]
    """
    return list(reversed(embedding_model.channels))


class LMACDecoder(torch.nn.Module):
    """Mask decoder over the classifier's block outputs.

    Arguments
    ---------
    rep_channels : sequence of int
        Channels of the block outputs, deepest first (see :func:`rep_channels`): the top-down path reads
        the first four (blocks 6-3); ``early_channels`` also the next two (blocks 2 and 1).
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
    early_channels : int
        Channels of a path from the classifier's own first two blocks (at 1/4 and 1/2 of the
        ``T x n_mels`` grid: 1x1 laterals, the coarser one added to the finer, a ReLU), upsampled to
        ``T x n_mels`` and joining the head: the features the classifier itself computes at fine
        resolution, where the top-down path starts at 1/8 (0: none). Needs six ``rep_channels``.
    coarse_blocks : int
        Residual blocks on the top-down path at its finest grid (1/8 of ``T x n_mels``), after its 3x3
        convolution: each adds ``conv1x1(relu(conv3x3(h)))`` to ``h``, the ``i``-th 3x3 dilated by ``2**i``
        (0: none, the original decoder's single nonlinearity between the classifier's features and the
        maps). Their 1x1 convolutions start at zero, so a decoder warm-started from one without them
        starts by giving its masks. Cheap: the grid holds 1/64 of the ``T x n_mels`` cells.
    spec_gain : bool
        Add a learned per-frequency multiple of ``log1p|X|`` to the logits at full ``T x F`` resolution
        (the original decoder's only full-resolution term; it makes masks follow loudness).
    conditional : bool
        Class-conditional decoder: ``forward`` also takes the explained class as the classifier's head
        sees it (:meth:`~lmac_brain.models.classifier.AudioClassifier.class_directions`: a direction ``w_c``
        in embedding space and a bias ``b_c``). Two inputs carry it: the class's evidence map over the
        deepest block (``w_c . h6[t, f]``, standardised per item, as an extra lateral of the top-down
        path) and a FiLM modulation (Perez et al., 2018) of the top-down path by a linear map of
        ``(w_c / |w_c|, b_c)``, initialised to the identity. False: the decoder of the paper, which
        explains the decision it is not told about.
    class_code : int
        Conditional decoder only: 0 (default) or ``K > 0``, a class-code head. The decoder then
        outputs ``K`` feature maps at ``T x F`` and the mask logits are their dot product with a code
        ``k_c`` in ``R^K``, a linear map without bias of ``(w_c / |w_c|, b_c)`` (scaled by ``1/sqrt(K)``): every bin's
        logit passes through the class, so a mask cannot be the same for every class, nor survive a
        change of the head. Needs ``spec_gain=False`` (a class-independent term).
    class_features : bool
        Conditional decoder only: the class also shapes the decoder's features (the evidence map and
        FiLM above; True, the default). False (needs ``class_code > 0``): the class enters only through
        its code, the ``K`` maps do not depend on it, and masks for ``k`` classes cost one decoder pass
        plus ``k`` dot products (:meth:`class_logits`; ``lmac explain --top-k``).
    time_gate : bool
        Conditional decoder only: multiply the mask by a gate over time read off the classifier for the
        explained class, ``sigmoid(a * (e_c(t) - max_t e_c(t)) + b)`` with learned scalars ``a``, ``b``
        (initialised to ``TIME_GATE_INIT``). ``e_c(t) = w_c . mean_f h6[:, t, f]`` is the class's evidence
        in frame ``t`` of the deepest block, in the head's logit units (the class activation map of Zhou
        et al., CVPR 2016, over time: through the head's mean over time, each frame's share of the class
        logit), interpolated to ``T``. A frame where the classifier finds the class as strongly as
        anywhere in the clip keeps ``sigmoid(b)`` of its mask; one whose evidence is ``x`` logits lower,
        ``sigmoid(b - a x)``; where the evidence is even over time (a steady sound) the gate is even too.
        The class-code maps choose *which frequencies* carry a class; the gate says *when* the
        classifier found it.

    Example
    -------
    >>> dec = LMACDecoder([64, 32, 16, 8], n_mels=80, n_freqs=513, hidden=16, out_channels=4)
    >>> reps = [torch.rand(2, 64, 5, 2), torch.rand(2, 32, 5, 2), torch.rand(2, 16, 11, 5), torch.rand(2, 8, 22, 10)]
    >>> print(dec(reps, torch.rand(2, 187, 513)).shape)
    torch.Size([2, 187, 513])
    >>> fine = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, fine_channels=8, spec_gain=False)
    >>> print(fine(reps, torch.rand(2, 187, 513)).shape, fine.config()["fine_channels"])
    torch.Size([2, 187, 513]) 8
    >>> early = LMACDecoder([64, 32, 16, 8, 4, 2], hidden=16, out_channels=4, early_channels=4, spec_gain=False)
    >>> print(early(reps + [torch.rand(2, 4, 46, 20), torch.rand(2, 2, 93, 40)], torch.rand(2, 187, 513)).shape)
    torch.Size([2, 187, 513])
    >>> cond = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True)
    >>> print(cond(reps, torch.rand(2, 187, 513), (torch.randn(2, 64), torch.zeros(2))).shape)
    torch.Size([2, 187, 513])
    >>> coded = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, class_code=8, spec_gain=False)
    >>> print(coded(reps, torch.rand(2, 187, 513), (torch.randn(2, 64), torch.zeros(2))).shape)
    torch.Size([2, 187, 513])
    >>> free = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, class_code=8, spec_gain=False,
    ...                    class_features=False)
    >>> print(free.class_logits(reps, torch.rand(2, 187, 513), (torch.randn(2, 3, 64), torch.zeros(2, 3))).shape)
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
        early_channels: int = 0,
        coarse_blocks: int = 0,
        spec_gain: bool = True,
        conditional: bool = False,
        class_code: int = 0,
        class_features: bool = True,
        time_gate: bool = False,
    ):
        super().__init__()
        if time_gate and not conditional:
            raise ValueError("time_gate=True needs conditional=True: the gate reads the explained class's evidence.")
        if class_code and (not conditional or spec_gain):
            raise ValueError("class_code > 0 needs conditional=True and spec_gain=False.")
        if not class_features and not class_code:
            raise ValueError(
                "class_features=False needs conditional=True and class_code > 0: otherwise the class would reach "
                "the mask nowhere."
            )
        if early_channels and len(rep_channels) < 6:
            raise ValueError(
                f"early_channels={early_channels} needs the channels of six blocks (rep_channels of the classifier), "
                f"got {list(rep_channels)}."
            )
        self.rep_channels, self.n_mels, self.n_freqs = list(rep_channels), n_mels, n_freqs
        self.hidden, self.out_channels, self.fine_channels = hidden, out_channels, fine_channels
        self.early_channels, self.coarse_blocks = early_channels, coarse_blocks
        self.use_spec_gain, self.conditional, self.class_code = spec_gain, conditional, class_code
        self.class_features, self.time_gate = class_features, time_gate
        if conditional and class_features:  # the class evidence map joins the deepest lateral; FiLM of the top-down path
            self.evidence_lateral = torch.nn.Conv2d(1, hidden, 1)
            self.film = torch.nn.Linear(self.rep_channels[0] + 1, 2 * hidden)
            for p in self.conditioning_parameters():  # start as the unconditional decoder (see warm_start)
                torch.nn.init.zeros_(p)
        self.lateral = torch.nn.ModuleList(torch.nn.Conv2d(c, hidden, 1) for c in self.rep_channels[:4])
        if early_channels:  # blocks 2 and 1 of the classifier
            self.early = torch.nn.ModuleList(torch.nn.Conv2d(c, early_channels, 1) for c in self.rep_channels[4:6])
        self.smooth = torch.nn.Sequential(
            torch.nn.Conv2d(hidden, hidden, 3, padding=1), torch.nn.BatchNorm2d(hidden), torch.nn.ReLU()
        )
        self.coarse = torch.nn.ModuleList(
            torch.nn.Sequential(
                torch.nn.Conv2d(hidden, hidden, 3, padding=2 ** i, dilation=2 ** i), torch.nn.ReLU(),
                torch.nn.Conv2d(hidden, hidden, 1),
            )
            for i in range(coarse_blocks)
        )
        for block in self.coarse:  # identity at the start (see warm_start)
            torch.nn.init.zeros_(block[2].weight)
            torch.nn.init.zeros_(block[2].bias)
        self.reduce = torch.nn.Conv2d(hidden, out_channels, 1)
        for module in (self.smooth, self.coarse, self.reduce):  # they run channels-last (see _head_input)
            module.to(memory_format=torch.channels_last)
        self.linear_to_mel = torch.nn.Linear(n_freqs, n_mels)
        if fine_channels:
            self.fine = torch.nn.Sequential(
                torch.nn.Conv2d(1, fine_channels, 3, padding=1), torch.nn.ReLU(inplace=True),
                torch.nn.Conv2d(fine_channels, fine_channels, 3, padding=1), torch.nn.ReLU(inplace=True),
            ).to(memory_format=torch.channels_last)
        self.head = torch.nn.Sequential(
            torch.nn.Conv2d(out_channels + 1 + fine_channels + early_channels, out_channels, 3, padding=1),
            torch.nn.ReLU(inplace=True),
            torch.nn.Conv2d(out_channels, class_code or 1, 1),
        )
        if class_code:  # (w_c / |w_c|, b_c) -> the class's code
            self.code = torch.nn.Linear(self.rep_channels[0] + 1, class_code, bias=False)  # no class-free part
        self.mel_to_linear = torch.nn.Linear(n_mels, n_freqs)
        if spec_gain:  # per-frequency weight of log1p|X| added to the logits at full resolution
            self.spec_gain = torch.nn.Parameter(torch.zeros(n_freqs))
        if time_gate:  # (a, b) of sigmoid(a * z_c(t) + b)
            self.gate = torch.nn.Parameter(torch.tensor(TIME_GATE_INIT))

    def conditioning_parameters(self) -> List[torch.nn.Parameter]:
        """The parameters that only a conditional decoder has (its class inputs)."""
        return list(self.evidence_lateral.parameters()) + list(self.film.parameters()) if self.conditional and self.class_features else []

    def warm_start(self, state: dict) -> None:
        """Load the weights of a decoder without this one's optional inputs: an unconditional decoder
        into a conditional one (the class inputs stay at their zero initialisation, so it starts by
        giving that decoder's masks for every class), a decoder without a time gate into one with it
        (the gate starts at ``TIME_GATE_INIT``), or a decoder without the fine stack or the early path into
        one with them (``fine_channels``, ``early_channels > 0``: the head's weights on their features start
        at zero, so it starts by giving that decoder's masks; the new layers keep their random
        initialisation), or a decoder without coarse blocks into one with them (``coarse_blocks > 0``: they
        start as the identity).

        Raises ``ValueError`` if ``state`` lacks anything else or holds something this decoder has not.

        Example
        -------
        >>> plain = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4)
        >>> cond = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True)
        >>> cond.warm_start(plain.state_dict())
        >>> bool(torch.equal(cond.reduce.weight, plain.reduce.weight))
        True
        >>> gated = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, time_gate=True)
        >>> gated.warm_start(cond.state_dict()); gated.gate.tolist()
        [1.0, 2.0]
        >>> fine = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, time_gate=True, fine_channels=2)
        >>> fine.warm_start(gated.state_dict()); reps = [torch.rand(1, c, 3, 2) for c in (64, 32, 16, 8)]
        >>> x, cls = torch.rand(1, 20, 513), (torch.randn(1, 64), torch.zeros(1))
        >>> bool(torch.allclose(fine.eval()(reps, x, cls), gated.eval()(reps, x, cls), atol=1e-5))
        True
        >>> early = LMACDecoder([64, 32, 16, 8, 4, 2], hidden=16, out_channels=4, conditional=True, time_gate=True,
        ...                     fine_channels=2, early_channels=3)
        >>> early.warm_start(fine.state_dict()); six = reps + [torch.rand(1, 4, 6, 4), torch.rand(1, 2, 10, 40)]
        >>> bool(torch.allclose(early.eval()(six, x, cls), fine(reps, x, cls), atol=1e-5))
        True
        >>> deep = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, time_gate=True,
        ...                    fine_channels=2, coarse_blocks=2)
        >>> deep.needs_warm_start(fine.state_dict()); deep.warm_start(fine.state_dict())
        True
        >>> bool(torch.allclose(deep.eval()(reps, x, cls), fine(reps, x, cls), atol=1e-5))
        True
        """
        optional = self.conditioning_parameters() + ([self.gate] if self.time_gate else [])
        optional += list(self.fine.parameters()) if self.fine_channels else []
        optional += list(self.early.parameters()) if self.early_channels else []
        optional += list(self.coarse.parameters())
        own = {name for name, p in self.named_parameters() if any(p is q for q in optional)}
        missing = set(self.state_dict()) - set(state) - own
        unexpected = set(state) - set(self.state_dict())
        if missing or unexpected:
            raise ValueError(
                f"Not the weights of a decoder of this shape without its optional inputs: missing {sorted(missing)[:5]}, "
                f"unexpected {sorted(unexpected)[:5]}."
            )
        state = dict(state)
        # the head reads [maps, mel, fine, early]: the parts that state's decoder lacks join at zero weight
        head, old = self.head[0].weight, state["head.0.weight"]
        parts, at = [old[:, : self.out_channels + 1]], self.out_channels + 1
        for key, n in (("fine.0.weight", self.fine_channels), ("early.0.weight", self.early_channels)):
            if n and key not in state:
                parts.append(head.new_zeros(head.shape[0], n, *head.shape[2:]))
            elif n:
                parts.append(old[:, at: at + n])
                at += n
        state["head.0.weight"] = torch.cat(parts, dim=1)
        self.load_state_dict(state, strict=False)

    def needs_warm_start(self, state: dict) -> bool:
        """Whether ``state`` lacks this decoder's optional inputs (class inputs, time gate, fine stack, early
        path, coarse blocks): load it
        with :meth:`warm_start`."""
        return (
            (self.conditional and self.class_features and "film.weight" not in state)
            or (self.time_gate and "gate" not in state)
            or (bool(self.fine_channels) and "fine.0.weight" not in state)
            or (bool(self.early_channels) and "early.0.weight" not in state)
            or (bool(self.coarse_blocks) and "coarse.0.0.weight" not in state)
        )

    def config(self) -> dict:
        """The constructor arguments: what an exported folder needs to rebuild this decoder."""
        return {
            "rep_channels": list(self.rep_channels), "n_mels": self.n_mels, "n_freqs": self.n_freqs,
            "hidden": self.hidden, "out_channels": self.out_channels, "fine_channels": self.fine_channels,
            "early_channels": self.early_channels, "coarse_blocks": self.coarse_blocks, "spec_gain": self.use_spec_gain, "conditional": self.conditional, "class_code": self.class_code,
            "class_features": self.class_features, "time_gate": self.time_gate,
        }

    def forward(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
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
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
    ) -> torch.Tensor:
        """The mask ``[B, T, F]``, ``sigmoid`` of :meth:`forward`'s logits, from the two factors (:func:`gated_mask`):
        equal up to float rounding, without the full-resolution softplus of the gated product's logits."""
        return gated_mask(*self.factors(reps, logmag, condition), overwrite=not torch.is_grad_enabled())

    def factors(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Optional[Tuple[torch.Tensor, torch.Tensor]] = None
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The mask's two factors as logits: ``l`` ``[B, T, F]`` and the time gate's ``g`` ``[B, T]`` (None without a
        gate); the mask is ``sigmoid(l) * sigmoid(g)``. Arguments as :meth:`forward`.

        Batches whose ``T x n_mels`` features exceed :data:`PASS_BYTES` run in passes of fewer items (the same
        numbers up to float rounding).
        """
        self._check(reps, logmag)
        if self.conditional and condition is None:
            raise ValueError("A conditional decoder needs the explained classes (condition=(directions, biases)).")
        return self._in_passes(self._factors, reps, logmag, condition)

    def _factors(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Optional[Tuple[torch.Tensor, torch.Tensor]]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        hidden = self._head_hidden(reps, logmag, condition if self.class_features else None)
        if self.class_code:
            logits = self._code_logits(hidden, self.code(self._class_input(*condition)).unsqueeze(1))[:, 0]
        else:
            h = self.mel_to_linear(self.head[2](hidden).squeeze(1))  # [B, T, F]
            logits = h + self.spec_gain * logmag if self.use_spec_gain else h
        if not self.time_gate:
            return logits, None
        return logits, self._gate_logits(reps[0], condition[0].unsqueeze(1), logmag.shape[1])[:, 0]

    def class_logits(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """Conditional decoder: mask logits ``[B, k, T, F]`` for ``k`` classes per item.

        ``condition``: directions ``[B, k, C_0]`` and biases ``[B, k]``. With ``class_features=False`` the
        decoder runs once and each class costs a dot product of its code with the ``K`` maps; otherwise
        the decoder runs on the batch repeated ``k`` times. Either way, the same logits as :meth:`forward`
        for each class alone.
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
        directions, biases = condition
        n, k = biases.shape
        if not self.class_features:
            return self._in_passes(self._class_factors, reps, logmag, condition)
        repeated = [r.repeat_interleave(k, dim=0) for r in reps]
        flat = (directions.reshape(n * k, -1), biases.reshape(-1))
        logits, gate = self.factors(repeated, logmag.repeat_interleave(k, dim=0), flat)
        return logits.view(n, k, *logits.shape[1:]), None if gate is None else gate.view(n, k, -1)

    def _class_factors(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Tuple[torch.Tensor, torch.Tensor]
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        directions, biases = condition
        n, k = biases.shape
        codes = self.code(self._class_input(directions.reshape(n * k, -1), biases.reshape(-1)))
        logits = self._code_logits(self._head_hidden(reps, logmag, None), codes.view(n, k, -1))
        return logits, self._gate_logits(reps[0], directions, logmag.shape[1]) if self.time_gate else None

    def _in_passes(self, fn, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``fn(reps, logmag, condition)`` on slices of the batch whose ``T x n_mels`` features (the head's widest)
        take at most :data:`PASS_BYTES`, its two outputs concatenated."""
        n, widest = logmag.shape[0], max(self.out_channels, 1 + self.fine_channels + self.early_channels)
        per_item = logmag.shape[1] * self.n_mels * widest * logmag.element_size()
        passes = min(n, -(-n * per_item // PASS_BYTES))
        if passes <= 1:
            return fn(reps, logmag, condition)
        step = -(-n // passes)
        parts = [
            fn([r[i: i + step] for r in reps], logmag[i: i + step],
               None if condition is None else tuple(c[i: i + step] for c in condition))
            for i in range(0, n, step)
        ]
        return tuple(None if outs[0] is None else torch.cat(outs) for outs in zip(*parts))

    def _check(self, reps: Sequence[torch.Tensor], logmag: torch.Tensor) -> None:
        needed = 6 if self.early_channels else 4
        if len(reps) < needed:
            raise ValueError(f"Expected at least {needed} block outputs (deepest first), got {len(reps)}.")
        if logmag.dim() != 3 or logmag.shape[-1] != self.n_freqs:
            raise ValueError(f"Expected log-magnitude [B, T, {self.n_freqs}], got {tuple(logmag.shape)}.")

    @staticmethod
    def _class_input(directions: torch.Tensor, biases: torch.Tensor) -> torch.Tensor:
        """``(w_c / |w_c|, b_c)``, ``[B, C_0 + 1]``: what the FiLM and the code read of a class."""
        return torch.cat([F.normalize(directions, dim=-1), biases.unsqueeze(1)], dim=1)

    def _maps(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Optional[Tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        """The head's output at ``T x n_mels``, ``[B, K or 1, T, n_mels]``; ``condition`` shapes the features
        (the evidence map and FiLM) when given."""
        return self.head[2](self._head_hidden(reps, logmag, condition))

    def _head_hidden(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Optional[Tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        """The head's 3x3 convolution and ReLU, ``[B, out_channels, T, n_mels]`` (what its last 1x1 layer reads).

        The convolution runs as two, one over the coarse maps and one over the rest of the head's input, summed:
        the same as one convolution over their concatenation up to float rounding, without copying the whole
        ``T x n_mels`` input into that concatenation on every call.
        """
        coarse, rest = self._head_input(reps, logmag, condition)
        conv, split = self.head[0], coarse.shape[1]
        # contiguous copies of the two weight slices (a few thousand numbers): a strided weight costs oneDNN more
        out = F.conv2d(coarse, conv.weight[:, :split].contiguous(), conv.bias, padding=conv.padding)
        out = out.add_(F.conv2d(rest, conv.weight[:, split:].contiguous(), None, padding=conv.padding))
        return self.head[1](out)

    def _head_input(
        self, reps: Sequence[torch.Tensor], logmag: torch.Tensor, condition: Optional[Tuple[torch.Tensor, torch.Tensor]]
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """What the head reads, in channels-last layout: the coarse maps ``[B, out_channels, T, n_mels]``, and
        ``Mel(log1p|X|)`` with the fine and early features, ``[B, 1 + fine_channels + early_channels, T, n_mels]``."""
        h = self.lateral[0](reps[0])
        if condition is not None:
            unit = F.normalize(condition[0], dim=-1)
            evidence = torch.einsum("bchw,bc->bhw", reps[0], unit).unsqueeze(1)  # the class's evidence map
            mean, std = evidence.mean(dim=(2, 3), keepdim=True), evidence.std(dim=(2, 3), keepdim=True, unbiased=False)
            h = h + self.evidence_lateral((evidence - mean) / (std + 1e-5))
        for lateral, rep in zip(self.lateral[1:], reps[1:]):
            h = F.interpolate(h, size=rep.shape[-2:], mode="nearest") + lateral(rep)
        if condition is not None:
            gamma, beta = self.film(self._class_input(*condition)).chunk(2, dim=1)
            h = h * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
        h = self.smooth(h.contiguous(memory_format=torch.channels_last))  # 15-25% faster on a CPU than NCHW here
        for block in self.coarse:
            h = h + block(h)
        h = self.reduce(h)  # [B, c, T/8, M/8]
        h = F.interpolate(
            h.contiguous(memory_format=torch.channels_last), size=(logmag.shape[1], self.n_mels), mode="bilinear",
            align_corners=False,
        )
        # [B, 1, T, M] with channels-last strides. The convolutions at T x n_mels run in that layout: 2-3x
        # faster with oneDNN on a CPU for these few channels (the fine stack's first convolution also gets it
        # from its weights).
        mel = self.linear_to_mel(logmag).unsqueeze(-1).permute(0, 3, 1, 2)
        parts = [mel] + ([self.fine(mel)] if self.fine_channels else [])
        if self.early_channels:  # the classifier's blocks 2 and 1: coarser added to finer, to T x n_mels
            e = self.early[1](reps[5])
            e = F.relu(e + F.interpolate(self.early[0](reps[4]), size=e.shape[-2:], mode="nearest"))
            parts.append(F.interpolate(e, size=mel.shape[-2:], mode="bilinear", align_corners=False))
        rest = torch.cat(parts, dim=1).contiguous(memory_format=torch.channels_last) if len(parts) > 1 else mel
        return h, rest

    def _gate_logits(self, deepest: torch.Tensor, directions: torch.Tensor, n_frames: int) -> torch.Tensor:
        """``a * (e(t) - max_t e(t)) + b``, ``[B, k, T]``, for class directions ``[B, k, C_0]`` over the deepest
        block ``[B, C_0, T6, M6]``."""
        evidence = torch.einsum("bct,bkc->bkt", deepest.mean(dim=3), directions)
        below = F.interpolate(evidence - evidence.amax(dim=2, keepdim=True), size=n_frames, mode="linear", align_corners=False)
        return self.gate[0] * below + self.gate[1]

    def _code_logits(self, hidden: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, k, T, F]``: the head's ``K`` maps dotted with codes ``[B, k, K]``, then to ``F`` bins.

        ``hidden`` ``[B, out_channels, T, n_mels]`` is what the head's last (1x1) layer reads; that layer and the
        dot product are folded into one 1x1 layer per class (``codes @ W``), so the ``K`` maps are never
        formed. ``mel_to_linear`` is affine, so this equals dotting its ``K`` outputs at ``T x F``.
        """
        scale = self.class_code ** -0.5
        last = self.head[2]
        weight = codes @ last.weight.flatten(1) * scale  # [B, k, out_channels]
        n, c, t, m = hidden.shape
        # channels-last hidden is [B, T, M, c] in memory: one batched product over its T * M positions
        mixed = torch.bmm(hidden.permute(0, 2, 3, 1).reshape(n, t * m, c), weight.transpose(1, 2))  # [B, T M, k]
        mixed = mixed.view(n, t, m, -1).permute(0, 3, 1, 2) + (codes @ last.bias * scale)[..., None, None]
        k, f = codes.shape[1], self.n_freqs
        bias = self.mel_to_linear.bias * (codes.sum(dim=-1) * scale)[..., None]  # [B, k, F]
        # mel -> linear with the bias added inside the product (one pass over the T x F output)
        out = torch.baddbmm(bias.view(n * k, 1, f), mixed.reshape(n * k, t, m), self.mel_to_linear.weight.t().expand(n * k, m, f))
        return out.view(n, k, t, f)


def gated_logits(logits: torch.Tensor, gate: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Logits of ``sigmoid(logits) * sigmoid(gate)``, a mask times a gate over time: ``logits`` ``[..., T, F]``,
    ``gate`` ``[..., T]``; exact and stable for large logits of either sign. ``logits`` itself without a gate.

    Example
    -------
    >>> l, g = torch.tensor([[[3.0, -2.0]]]), torch.tensor([[0.5]])
    >>> torch.allclose(torch.sigmoid(gated_logits(l, g)), torch.sigmoid(l) * torch.sigmoid(g))
    True
    >>> print(torch.isfinite(gated_logits(torch.tensor([[[60.0, -60.0]]]), torch.tensor([[40.0]]))).all().item())
    True
    """
    if gate is None:
        return logits
    # odds of the product: e^l sigmoid(g) / (1 + e^l sigmoid(-g)), so its logit is
    # l + log sigmoid(g) - softplus(l + log sigmoid(-g)): two full-size passes, the rest per frame
    gate = gate.unsqueeze(-1)
    return logits + F.logsigmoid(gate) - F.softplus(logits + F.logsigmoid(-gate))


def gated_mask(logits: torch.Tensor, gate: Optional[torch.Tensor] = None, overwrite: bool = False) -> torch.Tensor:
    """``sigmoid(gated_logits(logits, gate))``, computed as ``sigmoid(logits) * sigmoid(gate)``: one sigmoid and one
    product at full resolution instead of a softplus and four passes (what every mask is computed with).

    ``overwrite=True`` computes the mask in ``logits``' own memory (they are lost; not for tensors that need
    gradients): no new ``[..., T, F]`` tensor, and the same numbers.

    Example
    -------
    >>> l, g = torch.randn(2, 5, 7) * 9, torch.randn(2, 5) * 9
    >>> torch.allclose(gated_mask(l, g), torch.sigmoid(gated_logits(l, g)), atol=1e-6)
    True
    >>> torch.equal(gated_mask(l), torch.sigmoid(l)), torch.equal(gated_mask(l, g), gated_mask(l.clone(), g, overwrite=True))
    (True, True)
    """
    if overwrite and logits.requires_grad:
        raise ValueError("gated_mask(..., overwrite=True) needs logits without gradients.")
    mask = logits.sigmoid_() if overwrite else torch.sigmoid(logits)
    if gate is None:
        return mask
    gate = torch.sigmoid(gate).unsqueeze(-1)
    return mask.mul_(gate) if overwrite else mask * gate


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
        """:meth:`LMACDecoder.factors`' interface: the logits, and no time gate."""
        return self.forward(reps, logmag), None
