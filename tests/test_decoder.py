"""Tests of lmac_brain.models.decoder (any length, shapes from the classifier, size) and of the reference adapter
(lmac_brain.models.reference_decoder)."""

import pytest
import torch
from speechbrain.lobes.models.Cnn14 import CNN14PSI_stft

from lmac_brain.explain.lmac import LMAC
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend
from lmac_brain.models.reference_decoder import ReferenceDecoder


@pytest.fixture(scope="module")
def small_lmac():
    torch.manual_seed(0)
    emb = Cnn14(80, 64, 0.0625, return_reps=True)
    clf = AudioClassifier(emb, torch.nn.Linear(64, 3))
    return LMAC(Frontend(), clf, LMACDecoder(rep_channels(emb), hidden=16, out_channels=8)).eval()


@pytest.mark.parametrize("seconds", [0.3, 1.0, 3.7, 5.0, 12.0])
def test_mask_is_exactly_t_by_f_for_any_length(small_lmac, seconds):
    n = int(seconds * 16000)
    mask = small_lmac.explain(torch.randn(2, n) * 0.1)
    assert mask.shape == (2, small_lmac.frontend.n_frames(n), 513)
    assert torch.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1


@pytest.mark.parametrize("width,emb_dim", [(0.125, 256), (0.25, 512), (1.0, 2048)])
def test_shapes_come_from_the_classifier(width, emb_dim):
    emb = Cnn14(80, emb_dim, width)
    assert rep_channels(emb) == [emb_dim] + [int(c * width) for c in (1024, 512, 256)]


@pytest.mark.parametrize("width", [0.25, 0.5, 1.0])
def test_at_most_a_tenth_of_the_reference_parameters(width):
    emb_dim = int(2048 * width)
    with torch.device("meta"):  # counts parameters without allocating 236.7 M floats
        reference = sum(p.numel() for p in CNN14PSI_stft(dim=emb_dim).parameters())
        ours = sum(p.numel() for p in LMACDecoder(rep_channels(Cnn14(80, emb_dim, width))).parameters())
    assert ours <= reference / 10, (ours, reference)


def test_reference_decoder_adapter_gives_full_length_at_5s_and_clear_error_otherwise():
    emb = Cnn14(80, 128, 0.0625, return_reps=True).eval()
    ref = ReferenceDecoder(CNN14PSI_stft(dim=128))
    for frames, ok in ((431, True), (318, False)):  # 5 s and 3.7 s
        logmag = torch.rand(1, frames, 513)
        _, reps = emb(torch.rand(1, frames, 80))
        if ok:
            assert ref(reps, logmag).shape == (1, frames, 513)
        else:
            with pytest.raises(ValueError, match="T mod 32"):
                ref(reps, logmag)


def test_decoder_input_errors():
    dec = LMACDecoder([8, 4, 2, 1], hidden=4, out_channels=2)
    with pytest.raises(ValueError, match="Expected at least 4 block outputs"):
        dec([torch.rand(1, 8, 2, 2)], torch.rand(1, 10, 513))
    reps = [torch.rand(1, c, 2, 2) for c in (8, 4, 2, 1)]
    with pytest.raises(ValueError, match=r"\[B, T, 513\]"):
        dec(reps, torch.rand(1, 10, 257))


def test_the_decoder_reads_the_four_deepest_blocks_and_ignores_further_channels():
    """Folders exported before list the channels of six blocks (rep_channels: [..., 32, 16]): the decoder they
    build is the same, and so are its masks."""
    torch.manual_seed(0)
    emb = Cnn14(80, 64, 0.0625, return_reps=True).eval()
    four = LMACDecoder(rep_channels(emb), hidden=8, out_channels=4).eval()
    six = LMACDecoder(list(reversed(emb.channels)), hidden=8, out_channels=4).eval()
    assert len(six.rep_channels) == 6 and six.config()["rep_channels"] == list(reversed(emb.channels))
    assert {k: v.shape for k, v in six.state_dict().items()} == {k: v.shape for k, v in four.state_dict().items()}
    six.load_state_dict(four.state_dict(), strict=True)
    with torch.no_grad():
        _, reps = emb(torch.rand(1, 100, 80))
    assert len(reps) == 4
    logmag = torch.rand(1, 100, 513)
    assert torch.equal(six(reps, logmag), four(reps, logmag))


def test_coarse_blocks_start_as_identity_then_learn_and_widen_the_context():
    torch.manual_seed(0)
    reps = [torch.rand(1, c, t, m) for c, t, m in ((16, 3, 1), (8, 3, 1), (4, 6, 2), (2, 12, 5))]
    logmag = torch.rand(1, 96, 513)
    plain = LMACDecoder([16, 8, 4, 2], hidden=8, out_channels=4, spec_gain=False).eval()
    deep = LMACDecoder([16, 8, 4, 2], hidden=8, out_channels=4, spec_gain=False, coarse_blocks=2).eval()
    assert plain.config()["coarse_blocks"] == 0 and deep.config()["coarse_blocks"] == 2
    assert [b[0].dilation for b in deep.coarse] == [(1, 1), (2, 2)]
    missing = deep.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("coarse.") for k in missing)  # the blocks keep their initialisation
    with torch.no_grad():
        assert torch.allclose(deep(reps, logmag), plain(reps, logmag), atol=1e-6)
    # the zero-initialised 1x1 convolutions receive a gradient, so the blocks can leave the identity
    deep(reps, logmag).square().mean().backward()
    assert all(b[2].weight.grad.abs().sum() > 0 for b in deep.coarse)
    # once they do, a change in one coarse cell reaches cells that the plain decoder's 3x3 cannot
    with torch.no_grad():
        for b in deep.coarse:
            torch.nn.init.normal_(b[2].weight, std=0.5)

    def reach(dec):
        with torch.no_grad():
            base = dec.head[2](dec._head_hidden(reps, logmag))
            moved = [r.clone() for r in reps]
            moved[3][..., 0, 0] += 5.0  # the finest coarse grid's first cell
            diff = (dec.head[2](dec._head_hidden(moved, logmag)) - base).abs().sum(dim=(0, 1, 3))
        return int((diff > 1e-6).nonzero().max())  # last frame that moves

    assert reach(deep) > reach(plain)


@pytest.mark.parametrize("fine", [0, 3])
def test_head_convolution_in_two_parts_equals_one_over_the_concatenation(fine):
    torch.manual_seed(0)
    emb = Cnn14(80, 64, 0.0625, return_reps=True).eval()
    dec = LMACDecoder(rep_channels(emb), hidden=8, out_channels=4, fine_channels=fine).eval()
    torch.nn.init.normal_(dec.head[0].weight)  # every input channel of the head counts
    with torch.no_grad():
        _, reps = emb(torch.rand(2, 100, 80))
        logmag = torch.rand(2, 100, 513)
        coarse, rest = dec._head_input(reps, logmag)
        assert coarse.shape[1] == 4 and rest.shape[1] == 1 + fine
        whole = dec.head[:2](torch.cat([coarse, rest], dim=1))
        split = dec._head_hidden(reps, logmag)
    assert whole.abs().max() > 0.1 and torch.allclose(split, whole, atol=1e-5, rtol=1e-5)
