"""The class-conditional L-MAC decoder (lmac_brain.models.conditioning and the decoder's passes):
it depends on the classifier's head, answers for any class in one pass, starts from a decoder without a time gate
or a fine stack, and decodes large batches in passes equal to one."""

import pytest
import torch
from conditional_models import KINDS, conditional_lmac

from lmac_brain.explain.refine import Refinement, targeted_masks
from lmac_brain.models.decoder import LMACDecoder


def test_a_changed_head_changes_the_conditional_mask_only():
    wavs = torch.randn(2, 16000) * 0.3
    for conditional, kind in [(False, {})] + [(True, kind) for kind in KINDS.values()]:
        lmac = conditional_lmac(conditional, **kind)
        before = lmac.explain(wavs)
        torch.nn.init.normal_(lmac.classifier.head.weight)
        after = lmac.explain(wavs)
        assert (before - after).abs().max() > 1e-3 if conditional else torch.equal(before, after), kind


def test_the_mask_depends_on_the_class_and_needs_no_refinement():
    lmac, wavs = conditional_lmac(), torch.randn(3, 16000) * 0.3
    masks = [targeted_masks(lmac, wavs, c) for c in range(4)]
    assert all(not m["refined"].any() for m in masks)
    assert (masks[0]["mask"] - masks[1]["mask"]).abs().max() > 1e-3
    decision = masks[0]["logits"].argmax(-1)
    plain = lmac.explain(wavs)
    assert torch.equal(plain, torch.stack([masks[int(c)]["mask"][i] for i, c in enumerate(decision)]))
    refined = targeted_masks(lmac, wavs, (decision + 1) % 4, Refinement(steps=2), refine=True)
    assert refined["refined"].all()


def test_all_classes_in_one_pass_equal_each_class_alone():
    wavs, classes = torch.randn(2, 16000) * 0.3, torch.tensor([[1, 3, 0], [2, 2, 1]])
    for name, kind in KINDS.items():
        lmac = conditional_lmac(**kind)
        out = lmac.masks_for_classes(wavs, classes)
        for r in range(3):
            alone = lmac.mask_of(wavs, classes[:, r])["mask"]
            assert torch.allclose(out["masks"][r], alone, atol=1e-5), name
        assert (out["masks"][0] - out["masks"][1]).abs().max() > 1e-3, name  # not one mask for every class


def test_the_decoder_runs_once_for_any_number_of_classes():
    wavs, classes = torch.randn(2, 16000) * 0.3, torch.tensor([[1, 3, 0, 2], [2, 2, 1, 0]])
    for name, kind in KINDS.items():
        lmac, calls = conditional_lmac(**kind), []
        lmac.decoder.head[1].register_forward_hook(lambda module, args, out, calls=calls: calls.append(out.shape[0]))
        lmac.masks_for_classes(wavs, classes)
        assert calls == [2], name  # the head sees the batch once: its features do not depend on the class


def test_a_conditional_decoder_needs_a_class_code():
    with pytest.raises(ValueError, match=r"conditional=True needs class_code > 0 \(e.g. class_code=16"):
        LMACDecoder([64, 32, 16, 8], hidden=8, out_channels=4, conditional=True)
    with pytest.raises(ValueError, match="class_code > 0 needs conditional=True and spec_gain=False"):
        LMACDecoder([64, 32, 16, 8], hidden=8, out_channels=4, class_code=4, spec_gain=False)
    with pytest.raises(ValueError, match="class_code > 0 needs conditional=True and spec_gain=False"):
        LMACDecoder([64, 32, 16, 8], hidden=8, out_channels=4, conditional=True, class_code=4)


def test_the_time_gate_multiplies_the_mask_by_the_class_evidence_over_time():
    import torch.nn.functional as F

    lmac, wavs = conditional_lmac(**KINDS["time gate"]), torch.randn(2, 32000) * 0.3
    wavs[:, 8000:16000] *= 8.0  # a loud stretch: the evidence changes over time
    with torch.no_grad():  # a steep gate: this untrained toy's evidence varies by a small fraction of a logit
        lmac.decoder.gate.copy_(torch.tensor([20.0, 1.0]))
    for c in range(4):
        gated = lmac.mask_of(wavs, c)
        lmac.decoder.time_gate = False
        plain = lmac.mask_of(wavs, c)["mask"]
        lmac.decoder.time_gate = True
        ratio = gated["mask"] / plain  # [B, T, F]: the same factor at every frequency of a frame
        assert torch.allclose(ratio, ratio[:, :, :1].expand_as(ratio), rtol=1e-4)
        # the factor, computed here from its definition: the class's evidence per frame of the deepest block
        # through the head's row (logit units), below its best frame, interpolated to T, through sigmoid(a x + b)
        with torch.no_grad():
            _, reps = lmac.classify(gated["logmag"])
        evidence = torch.einsum("bct,c->bt", reps[0].mean(dim=3), lmac.classifier.head.weight[c])
        below = F.interpolate(
            (evidence - evidence.amax(1, keepdim=True)).unsqueeze(1),
            size=ratio.shape[1],
            mode="linear",
            align_corners=False,
        )[:, 0]
        a, b = lmac.decoder.gate.tolist()
        assert torch.allclose(ratio[:, :, 0], torch.sigmoid(a * below + b), atol=1e-4)
        assert (ratio[:, :, 0].amax(1) - ratio[:, :, 0].amin(1)).min() > 1e-3  # the evidence does vary over time here


def test_the_time_gate_needs_the_class():
    with pytest.raises(ValueError, match="time_gate=True needs conditional=True"):
        LMACDecoder([64, 32, 16, 8], hidden=8, out_channels=4, time_gate=True)


@pytest.mark.parametrize("kind", ["code", "time gate"])
def test_batches_decoded_in_passes_equal_one_pass(monkeypatch, kind):
    """Batches whose T x n_mels features exceed PASS_BYTES run in passes of fewer items: the same logits, gate and
    masks as one pass (also for k classes per item), and gradients reach the decoder through every pass."""
    import lmac_brain.models.decoder as decoder_module
    import lmac_brain.models.passes as passes

    lmac, wavs = conditional_lmac(**KINDS[kind]), torch.randn(5, 16000) * 0.3
    with torch.no_grad():
        logmag = lmac.analyse(wavs)[0]
        logits, reps = lmac.classify(logmag)
    classes = torch.tensor([[0, 2], [1, 3], [2, 0], [3, 1], [0, 1]])
    directions, biases = lmac.classifier.class_directions(classes.reshape(-1))
    condition = (directions.view(5, 2, -1), biases.view(5, 2))
    one = lmac.mask_factors(reps, logmag, classes[:, 0]), lmac.decoder.class_factors(reps, logmag, condition)
    calls = []
    original = decoder_module.LMACDecoder._head_hidden
    monkeypatch.setattr(
        decoder_module.LMACDecoder, "_head_hidden", lambda self, r, *a: calls.append(len(r[0])) or original(self, r, *a)
    )
    # two items' features per pass
    monkeypatch.setattr(passes, "PASS_BYTES", 2 * logmag.shape[1] * 80 * 4 * 4)
    passes = lmac.mask_factors(reps, logmag, classes[:, 0]), lmac.decoder.class_factors(reps, logmag, condition)
    assert calls[:3] == [2, 2, 1]  # five items in passes of two: 2 + 2 + 1
    for a, b in zip(one, passes):
        assert torch.allclose(a[0], b[0], atol=1e-5) and (a[1] is None) == (b[1] is None) == (kind == "code")
        assert a[1] is None or torch.allclose(a[1], b[1], atol=1e-6)
    lmac.train()
    lmac.mask_of(wavs, classes[:, 0])["mask"].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in lmac.decoder.head.parameters())


def test_explain_computes_the_gated_mask_from_its_factors():
    """explain and mask_of(with_logits=False) never form the gated product's logits: their mask is sigmoid(l) *
    sigmoid(g), the same as mask_of with the logits, and equal to the sigmoid of those logits up to float rounding."""
    from lmac_brain.models.conditioning import gated_logits, gated_mask

    lmac, wavs = conditional_lmac(**KINDS["time gate"]), torch.randn(3, 16000) * 0.3
    with torch.no_grad():
        lmac.decoder.gate.copy_(torch.tensor([20.0, 1.0]))  # a gate far from 1
    full = lmac.mask_of(wavs, 2)
    mask_only = lmac.mask_of(wavs, 2, phase=False, with_logits=False)
    assert "mask_logits" not in mask_only and torch.equal(full["mask"], mask_only["mask"])
    assert torch.equal(lmac.explain(wavs, 2), full["mask"])
    assert torch.allclose(full["mask"], torch.sigmoid(full["mask_logits"]), atol=1e-6)
    lmac.decoder.time_gate = False
    assert (lmac.explain(wavs, 2) - full["mask"]).abs().max() > 0.1  # the gate matters here
    lmac.decoder.time_gate = True
    logits, g = torch.randn(2, 4, 5, requires_grad=True), torch.randn(2, 4)
    with pytest.raises(ValueError, match="without gradients"):
        gated_mask(logits, g, overwrite=True)
    kept = logits.detach().clone()
    assert torch.equal(gated_mask(kept, g, overwrite=True), gated_mask(logits, g).detach())
    assert torch.allclose(gated_mask(logits, g), torch.sigmoid(gated_logits(logits, g)), atol=1e-6)
