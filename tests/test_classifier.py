"""Tests of lmac_brain.models.classifier: SpeechBrain/hub checkpoint compatibility, widths, any length."""

import os

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.lobes.models.Cnn14 import Cnn14 as SBCnn14
from speechbrain.lobes.models.ECAPA_TDNN import Classifier as SBHead

from lmac_brain.models.classifier import AudioClassifier, Cnn14


@pytest.mark.slow
def test_width_one_loads_speechbrain_state_dict_unchanged(tmp_path):
    torch.manual_seed(0)
    reference = SBCnn14(mel_bins=80, emb_dim=2048, return_reps=True).eval()
    path = tmp_path / "embedding_model.ckpt"
    torch.save(reference.state_dict(), path)
    ours = Cnn14(mel_bins=80, emb_dim=2048, width=1.0, return_reps=True).eval()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    ours.load_state_dict(torch.load(path), strict=True)
    x = torch.rand(1, 64, 80)
    with torch.no_grad():
        (emb_ref, reps_ref), (emb, reps) = reference(x), ours(x)
    assert torch.allclose(emb, emb_ref, atol=1e-5)
    for a, b in zip(reps, reps_ref):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


@pytest.mark.slow
def test_paper_config_pretrainer_loads_a_hub_style_folder(tmp_path, repo_root):
    """The paper-scale YAML's Pretrainer takes the public model's files (here a local copy)."""
    torch.manual_seed(0)
    hub = tmp_path / "cnn14-esc50"
    hub.mkdir()
    sb_emb = SBCnn14(mel_bins=80, emb_dim=2048)
    sb_head = SBHead(input_size=2048, lin_blocks=1, out_neurons=50)
    torch.save(sb_emb.state_dict(), hub / "embedding_model.ckpt")
    torch.save(sb_head.state_dict(), hub / "classifier.ckpt")
    with open(repo_root / "hparams" / "classifier_cnn14.yaml", encoding="utf-8") as f:
        hparams = load_hyperpyyaml(
            f,
            {
                "data_folder": str(tmp_path / "esc50"),
                "output_folder": str(tmp_path / "exp"),
                "pretrained_source": str(hub),
            },
        )
    hparams["pretrainer"].collect_files()
    hparams["pretrainer"].load_collected()
    for name, tensor in sb_emb.state_dict().items():
        assert torch.equal(hparams["embedding_model"].state_dict()[name], tensor), name
    assert torch.equal(hparams["head"].weight, sb_head.weight)
    logits, reps = hparams["classifier"].eval()(torch.rand(1, 40, 80))
    assert logits.shape == (1, 50) and len(reps) == 4
    assert float(logits.abs().max()) <= 30.0 + 1e-4  # cosine scores times logit_scale


@pytest.mark.parametrize("width,emb_dim,expected_millions", [(1.0, 2048, 75.5), (0.5, 1024, 18.9), (0.25, 512, 4.7)])
def test_width_scales_parameters(width, emb_dim, expected_millions):
    n = sum(p.numel() for p in Cnn14(80, emb_dim, width).parameters())
    assert abs(n / 1e6 - expected_millions) < 0.1


def test_reps_shapes_at_five_seconds():
    net = Cnn14(80, 512, 0.25, return_reps=True).eval()
    _, reps = net(torch.rand(1, 431, 80))
    assert [tuple(r.shape) for r in reps] == [
        (1, 512, 13, 2),
        (1, 256, 13, 2),
        (1, 128, 26, 5),
        (1, 64, 53, 10),
    ]


@pytest.mark.parametrize("frames", [1, 20, 31, 32, 33, 431, 1500])
def test_any_number_of_frames(frames):
    clf = AudioClassifier(Cnn14(80, 32, 0.125, return_reps=True), torch.nn.Linear(32, 4)).eval()
    logits, _ = clf(torch.rand(2, frames, 80))
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()


def test_input_errors():
    with pytest.raises(ValueError, match=r"\[B, T, 80\]"):
        Cnn14(80, 32, 0.125)(torch.rand(1, 100, 64))
    with pytest.raises(ValueError, match="return_reps=True"):
        AudioClassifier(Cnn14(80, 32, 0.125), torch.nn.Linear(32, 2))


@pytest.mark.slow
def test_lmac_paper_config_builds_and_loads_the_hub_classifier_files(tmp_path, repo_root):
    """hparams/lmac_cnn14.yaml and the paper's decoder at that scale (hparams/lmac_paper_cnn14.yaml): width-1.0
    classifier from a hub-style folder, our decoder on top."""
    torch.manual_seed(0)
    hub = tmp_path / "cnn14-esc50"
    hub.mkdir()
    torch.save(SBCnn14(mel_bins=80, emb_dim=2048).state_dict(), hub / "embedding_model.ckpt")
    torch.save(SBHead(input_size=2048, lin_blocks=1, out_neurons=50).state_dict(), hub / "classifier.ckpt")
    labels = "".join(f"'c{i}' => {i}\n" for i in range(50)) + "================\n'starting_index' => 0\n"
    (hub / "label_encoder.txt").write_text(labels, encoding="utf-8")
    overrides = {
        "data_folder": str(tmp_path),
        "noise_folder": str(tmp_path),
        "output_folder": str(tmp_path / "exp"),
        "classifier_source": str(hub),
    }
    from lmac_brain.recipe.variants import config_text

    for name in ("lmac_cnn14.yaml", "lmac_paper_cnn14.yaml"):
        hparams = load_hyperpyyaml(config_text(str(repo_root / "hparams" / name)), overrides)
        hparams["pretrainer"].collect_files()
        hparams["pretrainer"].load_collected()
        assert hparams["label_encoder"].decode_ndim(49) == "c49" and hparams["classifier"].logit_scale == 30.0
        mask = hparams["lmac"].eval().explain(torch.randn(1, 16000) * 0.1)
        assert mask.shape == (1, 87, 513)


# --------------------------------------------------------------------- the classifier folder as the source of its shape


def _export(tmp_path, emb, head, n_classes):
    from lmac_brain.interface.export import export_classifier
    from lmac_brain.models.frontend import Frontend

    labels = tmp_path / "labels.txt"
    labels.write_text(
        "".join(f"'c{i}' => {i}\n" for i in range(n_classes)) + "================\n'starting_index' => 0\n", "utf-8"
    )
    return export_classifier(
        str(tmp_path / "clf"), Frontend(n_mels=emb.mel_bins), AudioClassifier(emb, head), str(labels), {}
    )


@pytest.mark.parametrize("width,emb_dim", [(0.0625, 24), (0.3, 40), (0.5, 64)])
def test_classifier_folder_rebuilds_the_exported_shape(tmp_path, width, emb_dim):
    from lmac_brain.models import classifier_folder

    emb = Cnn14(64, emb_dim, width, return_reps=True)
    folder = _export(tmp_path, emb, torch.nn.Linear(emb_dim, 7), 7)
    arch = classifier_folder.read_architecture(folder)
    assert (arch.mel_bins, arch.emb_dim, arch.n_classes) == (64, emb_dim, 7)
    rebuilt = classifier_folder.embedding_model(folder, 64)
    assert rebuilt.channels == emb.channels
    rebuilt.load_state_dict(emb.state_dict())  # strict: every name and shape fits
    classifier_folder.head(folder).load_state_dict(torch.load(f"{folder}/classifier.ckpt"))


def test_classifier_folder_errors_name_the_problem(tmp_path):
    from lmac_brain.models import classifier_folder

    folder = _export(tmp_path, Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 2), 2)
    with pytest.raises(
        classifier_folder.ClassifierFolderError,
        match="trained on 80 mel bins but the front end makes 64; set n_mels: 80",
    ):
        classifier_folder.embedding_model(folder, 64)
    os.remove(os.path.join(folder, "classifier.ckpt"))
    with pytest.raises(classifier_folder.ClassifierFolderError, match="no classifier.ckpt"):
        classifier_folder.head(folder)
    torch.save({"weight": torch.zeros(3)}, os.path.join(folder, "classifier.ckpt"))
    with pytest.raises(
        classifier_folder.ClassifierFolderError, match="neither a torch.nn.Linear nor a SpeechBrain Classifier"
    ):
        classifier_folder.head(folder)


def test_classifier_folder_fetches_a_hub_id(tmp_path, monkeypatch):
    """A hub id goes through SpeechBrain's fetch (here answered from a local copy: no network)."""
    from lmac_brain.models import classifier_folder

    folder = _export(tmp_path, Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3), 3)
    asked = []

    def fake_fetch(filename, source):
        asked.append((filename, source))
        return os.path.join(folder, filename)

    monkeypatch.setattr(classifier_folder, "fetch", fake_fetch)
    assert classifier_folder.read_architecture("speechbrain/cnn14-esc50").n_classes == 3
    assert asked == [
        ("embedding_model.ckpt", "speechbrain/cnn14-esc50"),
        ("classifier.ckpt", "speechbrain/cnn14-esc50"),
    ]
