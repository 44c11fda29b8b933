"""Warm starts of :class:`~lmac_brain.models.decoder.LMACDecoder`: the weights of a decoder without some of
the optional inputs loaded into one with them, so that the new decoder starts by giving the old one's masks.

Every optional part of the decoder starts as a no-op: the class inputs (evidence lateral and FiLM) at
zero, the coarse blocks as the identity (their last layer at zero), the time gate at ``TIME_GATE_INIT``
(the only part that changes the mask from the start), and the head's weights on the fine and early
features at zero (:func:`warm_start` widens the old head's first convolution with zero columns). The
recipes load a ``decoder_init`` checkpoint this way when :func:`needs_warm_start` says so.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List

import torch

if TYPE_CHECKING:  # the decoder imports this module
    from lmac_brain.models.decoder import LMACDecoder


def optional_parameters(decoder: "LMACDecoder") -> List[torch.nn.Parameter]:
    """The parameters of ``decoder``'s optional inputs: class inputs, time gate, fine stack, early path and
    coarse blocks (those a warm start may leave at their initialisation).

    Example
    -------
    >>> from lmac_brain.models.decoder import LMACDecoder
    >>> len(optional_parameters(LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4)))
    0
    >>> len(optional_parameters(LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4,
    ...                                     conditional=True, time_gate=True)))
    5
    """
    optional = decoder.conditioning_parameters() + ([decoder.gate] if decoder.time_gate else [])
    optional += list(decoder.fine.parameters()) if decoder.fine_channels else []
    optional += list(decoder.early.parameters()) if decoder.early_channels else []
    optional += list(decoder.coarse.parameters())
    return optional


def warm_start(decoder: "LMACDecoder", state: Dict[str, torch.Tensor]) -> None:
    """Load into ``decoder`` the weights ``state`` of a decoder without some of its optional inputs.

    An unconditional decoder into a conditional one (the class inputs stay at their zero initialisation,
    so it starts by giving that decoder's masks for every class), a decoder without a time gate into one
    with it (the gate starts at ``TIME_GATE_INIT``), or a decoder without the fine stack or the early path
    into one with them (``fine_channels``, ``early_channels > 0``: the head's weights on their features
    start at zero, so it starts by giving that decoder's masks; the new layers keep their random
    initialisation), or a decoder without coarse blocks into one with them (``coarse_blocks > 0``: they
    start as the identity).

    Raises
    ------
    ValueError
        If ``state`` lacks anything else or holds something ``decoder`` has not.

    Example
    -------
    >>> from lmac_brain.models.decoder import LMACDecoder
    >>> plain = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4)
    >>> cond = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True)
    >>> warm_start(cond, plain.state_dict())
    >>> bool(torch.equal(cond.reduce.weight, plain.reduce.weight))
    True
    >>> gated = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, time_gate=True)
    >>> warm_start(gated, cond.state_dict()); gated.gate.tolist()
    [1.0, 2.0]
    >>> fine = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, time_gate=True,
    ...                    fine_channels=2)
    >>> warm_start(fine, gated.state_dict()); reps = [torch.rand(1, c, 3, 2) for c in (64, 32, 16, 8)]
    >>> x, cls = torch.rand(1, 20, 513), (torch.randn(1, 64), torch.zeros(1))
    >>> bool(torch.allclose(fine.eval()(reps, x, cls), gated.eval()(reps, x, cls), atol=1e-5))
    True
    >>> early = LMACDecoder([64, 32, 16, 8, 4, 2], hidden=16, out_channels=4, conditional=True, time_gate=True,
    ...                     fine_channels=2, early_channels=3)
    >>> warm_start(early, fine.state_dict()); six = reps + [torch.rand(1, 4, 6, 4), torch.rand(1, 2, 10, 40)]
    >>> bool(torch.allclose(early.eval()(six, x, cls), fine(reps, x, cls), atol=1e-5))
    True
    >>> deep = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, time_gate=True,
    ...                    fine_channels=2, coarse_blocks=2)
    >>> needs_warm_start(deep, fine.state_dict()); warm_start(deep, fine.state_dict())
    True
    >>> bool(torch.allclose(deep.eval()(reps, x, cls), fine(reps, x, cls), atol=1e-5))
    True
    """
    optional = optional_parameters(decoder)
    own = {name for name, p in decoder.named_parameters() if any(p is q for q in optional)}
    missing = set(decoder.state_dict()) - set(state) - own
    unexpected = set(state) - set(decoder.state_dict())
    if missing or unexpected:
        raise ValueError(
            f"Not the weights of a decoder of this shape without its optional inputs: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}."
        )
    state = dict(state)
    # the head reads [maps, mel, fine, early]: the parts that state's decoder lacks join at zero weight
    head, old = decoder.head[0].weight, state["head.0.weight"]
    parts, at = [old[:, : decoder.out_channels + 1]], decoder.out_channels + 1
    for key, n in (("fine.0.weight", decoder.fine_channels), ("early.0.weight", decoder.early_channels)):
        if n and key not in state:
            parts.append(head.new_zeros(head.shape[0], n, *head.shape[2:]))
        elif n:
            parts.append(old[:, at : at + n])
            at += n
    state["head.0.weight"] = torch.cat(parts, dim=1)
    decoder.load_state_dict(state, strict=False)


def needs_warm_start(decoder: "LMACDecoder", state: Dict[str, torch.Tensor]) -> bool:
    """Whether ``state`` lacks ``decoder``'s optional inputs (class inputs, time gate, fine stack, early path,
    coarse blocks): load it with :func:`warm_start`.

    Example
    -------
    >>> from lmac_brain.models.decoder import LMACDecoder
    >>> plain = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4)
    >>> gated = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True, time_gate=True)
    >>> needs_warm_start(gated, plain.state_dict()), needs_warm_start(gated, gated.state_dict())
    (True, False)
    """
    return (
        (decoder.conditional and decoder.class_features and "film.weight" not in state)
        or (decoder.time_gate and "gate" not in state)
        or (bool(decoder.fine_channels) and "fine.0.weight" not in state)
        or (bool(decoder.early_channels) and "early.0.weight" not in state)
        or (bool(decoder.coarse_blocks) and "coarse.0.0.weight" not in state)
    )
