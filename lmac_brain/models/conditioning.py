"""The class conditioning and the time gate of :class:`~lmac_brain.models.decoder.LMACDecoder`.

A conditional decoder is told the class it explains as the classifier's head sees it: a direction ``w_c``
in embedding space and a bias ``b_c``
(:meth:`~lmac_brain.models.classifier.AudioClassifier.class_directions`). It reaches the mask in up to
two ways, each a function here that the decoder calls with its own layers:

* a class code (``class_code``, required): the mask logits are the dot product of the decoder's ``K`` maps,
  which do not depend on the class, with a code ``k_c`` of the class, a linear map of ``(w_c / |w_c|, b_c)``
  (:func:`class_input`, :func:`code_logits`);
* a time gate (``time_gate``): the mask times ``sigmoid(a * (e_c(t) - max_t e_c(t)) + b)``, with ``e_c(t)``
  the class's evidence in frame ``t`` of the deepest block (:func:`gate_logits`). The class code chooses
  *which frequencies* carry the class, the gate *when* the classifier found it. The mask is then the
  product of two factors, :func:`gated_mask` (:func:`gated_logits`: the logits of that product).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

TIME_GATE_INIT = (1.0, 2.0)
"""Initial ``(a, b)`` of :class:`~lmac_brain.models.decoder.LMACDecoder`'s time gate
``sigmoid(a * (e(t) - max e) + b)``: the frame of strongest class evidence keeps 88% of its mask, a frame 2
logits weaker half, 4 logits weaker 12%."""


def check_class_options(conditional: bool, class_code: int, time_gate: bool, spec_gain: bool) -> None:
    """Raise ``ValueError`` unless the decoder options that carry the class fit together (see
    :class:`~lmac_brain.models.decoder.LMACDecoder`): the paper's decoder (``conditional=False, class_code=0``),
    or a conditional one with a class code (``conditional=True, class_code=K > 0, spec_gain=False``), with or
    without ``time_gate``.

    Example
    -------
    >>> check_class_options(conditional=True, class_code=16, time_gate=True, spec_gain=False)
    >>> check_class_options(conditional=False, class_code=0, time_gate=False, spec_gain=True)
    >>> check_class_options(conditional=True, class_code=0, time_gate=False, spec_gain=True)
    Traceback (most recent call last):
    ...
    ValueError: conditional=True needs class_code > 0 (e.g. class_code=16 with spec_gain=False): ...
    """
    if time_gate and not conditional:
        raise ValueError("time_gate=True needs conditional=True: the gate reads the explained class's evidence.")
    if conditional and not class_code:
        raise ValueError(
            "conditional=True needs class_code > 0 (e.g. class_code=16 with spec_gain=False): the class reaches a "
            "conditional decoder only through its class code. For the paper's decoder, which is not told the "
            "class, set conditional=False."
        )
    if class_code and (not conditional or spec_gain):
        raise ValueError("class_code > 0 needs conditional=True and spec_gain=False.")


def class_input(directions: torch.Tensor, biases: torch.Tensor) -> torch.Tensor:
    """``(w_c / |w_c|, b_c)``, ``[B, C_0 + 1]``: what the class code reads of a class (directions ``[B, C_0]``,
    biases ``[B]``).

    Example
    -------
    >>> class_input(torch.tensor([[3.0, 4.0]]), torch.tensor([-1.0]))
    tensor([[ 0.6000,  0.8000, -1.0000]])
    """
    return torch.cat([F.normalize(directions, dim=-1), biases.unsqueeze(1)], dim=1)


def gate_logits(gate: torch.Tensor, deepest: torch.Tensor, directions: torch.Tensor, n_frames: int) -> torch.Tensor:
    """The time gate's logits ``a * (e(t) - max_t e(t)) + b``, ``[B, k, T]``, for class directions
    ``[B, k, C_0]`` over the deepest block ``[B, C_0, T6, M6]``, with ``gate = (a, b)``.

    ``e(t) = w_c . mean_f h6[:, t, f]`` is the class's evidence in frame ``t`` of the deepest block, in the
    head's logit units (the class activation map of Zhou et al., CVPR 2016, over time: through the head's mean
    over time, each frame's share of the class logit), linearly interpolated to ``n_frames``. A frame where
    the classifier finds the class as strongly as anywhere in the clip keeps ``sigmoid(b)`` of its mask; one
    whose evidence is ``x`` logits lower, ``sigmoid(b - a x)``; where the evidence is even over time (a steady
    sound) the gate is even too.

    Example
    -------
    >>> deepest, directions = torch.rand(2, 8, 5, 3), torch.randn(2, 3, 8)
    >>> g = gate_logits(torch.tensor(TIME_GATE_INIT), deepest, directions, 40)
    >>> print(g.shape, bool((g <= TIME_GATE_INIT[1] + 1e-6).all()))  # no frame above the strongest one's b
    torch.Size([2, 3, 40]) True
    """
    evidence = torch.einsum("bct,bkc->bkt", deepest.mean(dim=3), directions)
    below = F.interpolate(
        evidence - evidence.amax(dim=2, keepdim=True), size=n_frames, mode="linear", align_corners=False
    )
    return gate[0] * below + gate[1]


def code_logits(
    hidden: torch.Tensor, codes: torch.Tensor, last: torch.nn.Conv2d, mel_to_linear: torch.nn.Linear
) -> torch.Tensor:
    """Mask logits ``[B, k, T, F]`` of a class-code head: its ``K`` maps dotted with codes ``[B, k, K]`` (scaled
    by ``1/sqrt(K)``), then mapped from ``n_mels`` to ``F`` bins by ``mel_to_linear``.

    A class's code ``k_c`` in ``R^K`` is a linear map without bias of ``(w_c / |w_c|, b_c)``
    (:func:`class_input`): every bin's logit passes through the class, so a mask cannot be the same for every
    class, nor survive a change of the head.

    ``hidden`` ``[B, C, T, n_mels]`` is what the head's last layer ``last`` (a 1x1 convolution, ``C -> K``)
    reads; that layer and the dot product are folded into one 1x1 layer per class (``codes @ W``), so the
    ``K`` maps are never formed. ``mel_to_linear`` is affine, so this equals dotting its ``K`` outputs at
    ``T x F``.

    Example
    -------
    >>> hidden, codes = torch.rand(2, 4, 7, 10), torch.randn(2, 3, 8)
    >>> last, to_linear = torch.nn.Conv2d(4, 8, 1), torch.nn.Linear(10, 17)
    >>> out = code_logits(hidden, codes, last, to_linear)
    >>> maps = to_linear(last(hidden))  # the K maps at T x F, [B, K, T, F]
    >>> direct = torch.einsum("bKtf,bkK->bktf", maps, codes) / 8 ** 0.5
    >>> print(out.shape, bool(torch.allclose(out, direct, atol=1e-5)))
    torch.Size([2, 3, 7, 17]) True
    """
    scale = codes.shape[-1] ** -0.5
    weight = codes @ last.weight.flatten(1) * scale  # [B, k, C]
    n, c, t, m = hidden.shape
    # channels-last hidden is [B, T, M, C] in memory: one batched product over its T * M positions
    mixed = torch.bmm(hidden.permute(0, 2, 3, 1).reshape(n, t * m, c), weight.transpose(1, 2))  # [B, T M, k]
    mixed = mixed.view(n, t, m, -1).permute(0, 3, 1, 2) + (codes @ last.bias * scale)[..., None, None]
    k, f = codes.shape[1], mel_to_linear.out_features
    bias = mel_to_linear.bias * (codes.sum(dim=-1) * scale)[..., None]  # [B, k, F]
    # mel -> linear with the bias added inside the product (one pass over the T x F output)
    out = torch.baddbmm(
        bias.view(n * k, 1, f), mixed.reshape(n * k, t, m), mel_to_linear.weight.t().expand(n * k, m, f)
    )
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
    >>> torch.equal(gated_mask(l), torch.sigmoid(l))
    True
    >>> torch.equal(gated_mask(l, g), gated_mask(l.clone(), g, overwrite=True))
    True
    """
    if overwrite and logits.requires_grad:
        raise ValueError("gated_mask(..., overwrite=True) needs logits without gradients.")
    mask = logits.sigmoid_() if overwrite else torch.sigmoid(logits)
    if gate is None:
        return mask
    gate = torch.sigmoid(gate).unsqueeze(-1)
    return mask.mul_(gate) if overwrite else mask * gate
