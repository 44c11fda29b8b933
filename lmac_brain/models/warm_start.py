"""Warm starts of :class:`~lmac_brain.models.decoder.LMACDecoder`: the weights of a decoder without some of
the optional inputs loaded into one with them, so that the new decoder starts by giving the old one's masks.

Every optional part of the decoder starts as a no-op: the coarse blocks as the identity (their last layer
at zero), the time gate at ``TIME_GATE_INIT`` (the only part that changes the mask from the start), and the
head's weights on the fine features at zero (:func:`warm_start` widens the old head's first convolution with
zero columns). The recipes load a ``decoder_init`` checkpoint this way when :func:`needs_warm_start` says
so.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List

import torch

if TYPE_CHECKING:  # the decoder imports this module
    from lmac_brain.models.decoder import LMACDecoder


def optional_parameters(decoder: "LMACDecoder") -> List[torch.nn.Parameter]:
    """The parameters of ``decoder``'s optional inputs: time gate, fine stack and coarse blocks (those a warm
    start may leave at their initialisation).

    Example
    -------
    >>> from lmac_brain.models.decoder import LMACDecoder
    >>> len(optional_parameters(LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4)))
    0
    >>> len(optional_parameters(LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4, conditional=True,
    ...                                     class_code=8, spec_gain=False, time_gate=True, coarse_blocks=1)))
    5
    """
    optional = [decoder.gate] if decoder.time_gate else []
    optional += list(decoder.fine.parameters()) if decoder.fine_channels else []
    optional += list(decoder.coarse.parameters())
    return optional


def warm_start(decoder: "LMACDecoder", state: Dict[str, torch.Tensor]) -> None:
    """Load into ``decoder`` the weights ``state`` of a decoder without some of its optional inputs.

    A conditional decoder without a time gate into one with it (the gate starts at ``TIME_GATE_INIT``), a
    decoder without the fine stack into one with it (``fine_channels > 0``: the head's weights on its features
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
    >>> kind = dict(hidden=16, out_channels=4, conditional=True, class_code=8, spec_gain=False)
    >>> cond = LMACDecoder([64, 32, 16, 8], **kind)
    >>> gated = LMACDecoder([64, 32, 16, 8], time_gate=True, **kind)
    >>> warm_start(gated, cond.state_dict()); gated.gate.tolist()
    [1.0, 2.0]
    >>> bool(torch.equal(gated.code.weight, cond.code.weight))
    True
    >>> fine = LMACDecoder([64, 32, 16, 8], time_gate=True, fine_channels=2, **kind)
    >>> warm_start(fine, gated.state_dict()); reps = [torch.rand(1, c, 3, 2) for c in (64, 32, 16, 8)]
    >>> x, cls = torch.rand(1, 20, 513), (torch.randn(1, 64), torch.zeros(1))
    >>> bool(torch.allclose(fine.eval()(reps, x, cls), gated.eval()(reps, x, cls), atol=1e-5))
    True
    >>> deep = LMACDecoder([64, 32, 16, 8], time_gate=True, fine_channels=2, coarse_blocks=2, **kind)
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
    if decoder.fine_channels and "fine.0.weight" not in state:  # the head reads [maps, mel, fine]: fine at zero
        head, old = decoder.head[0].weight, state["head.0.weight"]
        zeros = head.new_zeros(head.shape[0], decoder.fine_channels, *head.shape[2:])
        state["head.0.weight"] = torch.cat([old, zeros], dim=1)
    decoder.load_state_dict(state, strict=False)


def needs_warm_start(decoder: "LMACDecoder", state: Dict[str, torch.Tensor]) -> bool:
    """Whether ``state`` lacks ``decoder``'s optional inputs (time gate, fine stack, coarse blocks): load it with
    :func:`warm_start`.

    Example
    -------
    >>> from lmac_brain.models.decoder import LMACDecoder
    >>> kind = dict(hidden=16, out_channels=4, conditional=True, class_code=8, spec_gain=False)
    >>> cond, gated = LMACDecoder([64, 32, 16, 8], **kind), LMACDecoder([64, 32, 16, 8], time_gate=True, **kind)
    >>> needs_warm_start(gated, cond.state_dict()), needs_warm_start(gated, gated.state_dict())
    (True, False)
    """
    return (
        (decoder.time_gate and "gate" not in state)
        or (bool(decoder.fine_channels) and "fine.0.weight" not in state)
        or (bool(decoder.coarse_blocks) and "coarse.0.0.weight" not in state)
    )
