"""Tests of lmac_brain.models.decoder: any length, shapes from the classifier, size, the reference adapter."""

import pytest
import torch
from speechbrain.lobes.models.Cnn14 import CNN14PSI_stft

from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, ReferenceDecoder, rep_channels
from lmac_brain.models.frontend import Frontend
from lmac_brain.explain.lmac import LMAC


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
    assert rep_channels(emb) == [emb_dim, int(1024 * width), int(512 * width), int(256 * width)]


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
    with pytest.raises(ValueError, match="Expected 4 block outputs"):
        dec([torch.rand(1, 8, 2, 2)], torch.rand(1, 10, 513))
    reps = [torch.rand(1, c, 2, 2) for c in (8, 4, 2, 1)]
    with pytest.raises(ValueError, match=r"\[B, T, 513\]"):
        dec(reps, torch.rand(1, 10, 257))
