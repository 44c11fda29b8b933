"""L-MAC on a frame-level encoder (ECAPA-TDNN, x-vector): the FrameDecoder through LMAC, trained on toy tones."""

import pytest
import torch
from encoder_models import ECAPA_YAML, TONES_HZ, XVECTOR_YAML, toy_tones, train_on_tones, write_folder

from lmac_brain.explain.lmac import LMAC
from lmac_brain.explain.objective import lmac_loss
from lmac_brain.models.encoder_classifier import EncoderAudioClassifier
from lmac_brain.models.encoder_folder import load_encoder_classifier
from lmac_brain.models.frame_decoder import FrameDecoder


def encoder_lmac(folder: str, logit_scale: float, seed: int = 0, **decoder) -> LMAC:
    model = load_encoder_classifier(folder)
    clf, fe = EncoderAudioClassifier(model, logit_scale), model.frontend()
    class_dim = clf.class_directions(torch.tensor([0]))[0].shape[1]
    torch.manual_seed(seed)
    kind = dict(hidden=16, out_channels=4, fine_channels=4, coarse_blocks=1, class_code=4) | decoder
    return LMAC(fe, clf, FrameDecoder(clf.rep_channels, class_dim, n_mels=fe.n_mels, n_freqs=fe.n_freqs, **kind))


@pytest.fixture(scope="module")
def tone_folder(tmp_path_factory):
    """A small ECAPA-TDNN trained on three tones (1.0 accuracy on held-out clips, checked below)."""
    return write_folder(
        tmp_path_factory.mktemp("tones") / "ecapa", ECAPA_YAML, "label_encoder.txt", train=train_on_tones
    )


def test_lmac_on_ecapa_learns_where_the_class_is(tone_folder):
    """Trained with the L-MAC objective (area 0.25), the mask keeps the decision far better than a constant mask
    of the same mean, sits on the tone's frequency, and depends on the class it is told. Untrained (lr 0), the
    decoder keeps the decision no better than the flat mask, puts no more mask on the tone than elsewhere and
    barely depends on the class: each assertion below fails without learning."""
    lmac = encoder_lmac(tone_folder, logit_scale=30.0)
    wavs, labels = toy_tones(48, seed=999)
    with torch.no_grad():
        assert (lmac.classify(lmac.analyse(wavs)[0])[0].argmax(1) == labels).float().mean() >= 0.9
    opt = torch.optim.Adam(lmac.decoder.parameters(), lr=1e-2)
    losses = []
    lmac.train()
    for step in range(40):
        out = lmac(toy_tones(16, seed=100 + step)[0])
        loss, _ = lmac_loss(
            out["logits_in"], out["logits_out"], out["logits"].argmax(1), out["mask"], w_l1=0.0, w_area=50.0
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 2.0, losses
    lmac.eval()
    with torch.no_grad():
        out = lmac(wavs)
        decision = out["logits"].argmax(1)
        flat = torch.full_like(out["mask"], float(out["mask"].mean()))
        kept_flat = (lmac.classify(lmac.apply_mask(out["logmag"], flat))[0].argmax(1) == decision).float().mean()
        other = lmac.mask_of(wavs, (decision + 1) % len(TONES_HZ))["mask"]
    kept = (out["logits_in"].argmax(1) == decision).float().mean()
    assert kept >= kept_flat + 0.2, (float(kept), float(kept_flat))
    hz_per_bin = lmac.frontend.sample_rate / lmac.frontend.n_fft
    on_tone = [
        out["mask"][i, :, round(TONES_HZ[c] / hz_per_bin) - 1 : round(TONES_HZ[c] / hz_per_bin) + 2].mean()
        / out["mask"][i].mean()
        for i, c in enumerate(labels.tolist())
    ]
    assert sum(on_tone) / len(on_tone) > 1.5, on_tone
    assert (other - out["mask"]).abs().mean() > 0.025


def test_xvector_explained_per_class(tmp_path):
    """The x-vector head's class directions (its last layer) reach the mask; a top-k is one decoder pass."""
    folder = write_folder(tmp_path / "xvector", XVECTOR_YAML, "label_encoder.ckpt")
    lmac = encoder_lmac(folder, logit_scale=1.0, seed=1).eval()
    for p in lmac.decoder.parameters():  # larger weights than the initialisation: masks that differ between classes
        torch.nn.init.normal_(p, std=0.2)
    wavs = torch.randn(2, 8000) * 0.1
    with torch.no_grad():
        masks = lmac.masks_for_classes(wavs, torch.tensor([[0, 1, 2], [0, 1, 2]]))["masks"]  # [K, B, T, F]
        alone = lmac.mask_of(wavs, torch.tensor([1, 1]))["mask"]
    n_frames = lmac.frontend.n_frames(8000)
    assert masks.shape == (3, 2, n_frames, 201)
    torch.testing.assert_close(masks[1], alone, atol=1e-5, rtol=0)
    assert (masks[0] - masks[2]).abs().mean() > 1e-3


def test_optional_parts_start_as_the_identity():
    dec = FrameDecoder([32, 16], class_dim=8, n_mels=20, n_freqs=201, hidden=8, out_channels=4, class_code=4)
    reps, logmag, cond = (
        [torch.rand(1, 32, 40), torch.rand(1, 16, 40)],
        torch.rand(1, 40, 201),
        (torch.randn(1, 8), torch.zeros(1)),
    )
    whole = dec(reps, logmag, cond)
    dec.use_parts(["fine_channels", "coarse_blocks"])
    torch.testing.assert_close(dec(reps, logmag, cond), whole, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="no time_gate"):
        dec.use_parts(["time_gate"])


def test_wrong_block_outputs_are_named():
    dec = FrameDecoder([32, 16], class_dim=8, n_mels=20, n_freqs=201, hidden=8, out_channels=4, class_code=4)
    with pytest.raises(ValueError, match=r"C = \[32, 16\]"):
        dec([torch.rand(1, 32, 40)], torch.rand(1, 40, 201), (torch.randn(1, 8), torch.zeros(1)))
    with pytest.raises(ValueError, match="class_code must be > 0"):
        FrameDecoder([32], class_dim=8, class_code=0)
