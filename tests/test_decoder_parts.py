"""Decoder parts left out for a while (``LMACDecoder.use_parts``, a schedule's ``parts_off``).

A left-out part must not change under training (Adam with weight decay, as the recipe's optimiser), must
not change the mask when it joins (the fine features and residual blocks start at zero weight / as the
identity), and the schedule must refuse a plan the exported decoder could not follow.
"""

import pytest
import torch

from lmac_brain.models.decoder import PARTS, LMACDecoder
from lmac_brain.training.schedule import Schedule

SHAPES = [(64, 5, 2), (32, 5, 2), (16, 11, 5), (8, 22, 10)]


def _decoder():
    torch.manual_seed(0)
    return LMACDecoder(
        [64, 32, 16, 8],
        hidden=16,
        out_channels=4,
        fine_channels=4,
        coarse_blocks=2,
        spec_gain=False,
        conditional=True,
        class_code=4,
        time_gate=True,
    )


def _inputs(batch=3):
    reps = [torch.rand(batch, *s) for s in SHAPES]
    condition = (torch.randn(batch, 64), torch.randn(batch))
    return reps, torch.rand(batch, 187, 513), condition


def _left_out(dec):
    """The parameters (and the head's weights on the fine features) that a decoder without parts never uses."""
    return {
        "gate": dec.gate.detach().clone(),
        "fine": [p.detach().clone() for p in dec.fine.parameters()],
        "coarse": [p.detach().clone() for p in dec.coarse.parameters()],
        "head_on_fine": dec.head[0].weight[:, dec.out_channels + 1 :].detach().clone(),
    }


def test_left_out_parts_do_not_train_and_the_rest_does():
    dec = _decoder()
    before = _left_out(dec)
    head_before = dec.head[0].weight[:, : dec.out_channels + 1].detach().clone()
    assert float(before["head_on_fine"].abs().max()) == 0.0
    dec.use_parts(PARTS)
    opt = torch.optim.Adam(dec.parameters(), lr=1e-2, weight_decay=2e-6)  # the recipe's optimiser
    for _ in range(5):
        reps, logmag, condition = _inputs()
        opt.zero_grad()
        dec(reps, logmag, condition).sigmoid().mean().backward()
        opt.step()
    after = _left_out(dec)
    assert torch.equal(after["gate"], before["gate"])
    assert all(torch.equal(a, b) for a, b in zip(after["fine"], before["fine"]))
    assert all(torch.equal(a, b) for a, b in zip(after["coarse"], before["coarse"]))
    assert float(after["head_on_fine"].abs().max()) == 0.0
    assert not torch.equal(dec.head[0].weight[:, : dec.out_channels + 1], head_before)  # the rest trained


def test_parts_join_without_changing_the_mask_except_the_gate():
    dec = _decoder()
    dec.use_parts(PARTS)
    opt = torch.optim.Adam(dec.parameters(), lr=1e-2)
    reps, logmag, condition = _inputs()
    for _ in range(3):
        opt.zero_grad()
        dec(reps, logmag, condition).sigmoid().mean().backward()
        opt.step()
    with torch.no_grad():
        without = dec(reps, logmag, condition)
        dec.use_parts(["time_gate"])  # fine features and residual blocks join
        assert torch.allclose(dec(reps, logmag, condition), without, atol=1e-5)
        dec.use_parts()  # the gate joins: sigmoid(l) * sigmoid(g), g at its initial (a, b)
        logits, g = dec.factors(reps, logmag, condition)
        assert torch.allclose(logits, without, atol=1e-5) and g is not None
        assert torch.allclose(dec.mask(reps, logmag, condition), torch.sigmoid(without) * torch.sigmoid(g)[..., None])


def test_use_parts_names_what_is_wrong():
    plain = LMACDecoder([64, 32, 16, 8], hidden=16, out_channels=4)
    with pytest.raises(ValueError, match="no fine_channels to leave out"):
        plain.use_parts(["fine_channels"])
    with pytest.raises(ValueError, match="'gate' is not an optional decoder part"):
        _decoder().use_parts(["gate"])


@pytest.mark.parametrize(
    "phases, message",
    [
        ([{"epochs": 1, "parts_off": ["time_gate"]}], "the last, sets parts_off"),
        ([{"epochs": 1, "parts_off": ["fine"]}, {"epochs": 1}], "parts_off is a list of"),
        ([{"epochs": 1, "parts_off": "time_gate"}, {"epochs": 1}], "parts_off is a list of"),
        (
            [{"epochs": 1, "parts_off": ["fine_channels"]}, {"epochs": 1, "parts_off": ["time_gate"]}, {"epochs": 1}],
            r"turns \['time_gate'\] off again",
        ),
        ([{"epochs": 1, "parts_off": ["time_gate"], "gate_slope": 1.0}, {"epochs": 1}], "gate_slope and leaves"),
    ],
)
def test_schedule_refuses_parts_plans_the_exported_decoder_cannot_follow(phases, message):
    with pytest.raises(ValueError, match=message):
        Schedule(phases)


def test_schedule_parts_per_epoch():
    s = Schedule(
        [
            {"epochs": 2, "parts_off": ["time_gate", "fine_channels", "coarse_blocks"]},
            {"epochs": 1, "parts_off": ["fine_channels", "coarse_blocks"]},
            {"epochs": 1},
        ]
    )
    offs = [s.settings(e, {})["parts_off"] for e in range(1, 5)]
    assert offs == [list(PARTS), list(PARTS), ["fine_channels", "coarse_blocks"], []]
