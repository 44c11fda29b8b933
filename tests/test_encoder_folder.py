"""SpeechBrain EncoderClassifier folders (ECAPA-TDNN, x-vector) loaded from their own hyperparams.yaml."""

import os

import pytest
import torch
from encoder_models import ECAPA_YAML, LABELS, XVECTOR_YAML, write_folder
from speechbrain.inference.classifiers import EncoderClassifier

from lmac_brain.models.encoder_classifier import EncoderFolderError
from lmac_brain.models.encoder_folder import load_encoder_classifier
from lmac_brain.models.sources import SourceNotFoundError


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("encoders")
    return {
        "ecapa": write_folder(root / "ecapa", ECAPA_YAML, "label_encoder.txt"),
        "xvector": write_folder(root / "xvector", XVECTOR_YAML, "label_encoder.ckpt", seed=1),
    }


@pytest.mark.parametrize("family", ["ecapa", "xvector"])
def test_same_scores_and_decisions_as_speechbrains_loader(folders, family, tmp_path):
    folder = folders[family]
    ours = load_encoder_classifier(folder, savedir=str(tmp_path / "ours"))
    overrides = {"pretrained_path": folder} if family == "ecapa" else {}
    theirs = EncoderClassifier.from_hparams(source=folder, savedir=str(tmp_path / "sb"), overrides=overrides)
    wavs = torch.randn(4, 24000, generator=torch.Generator().manual_seed(3)) * 0.1
    with torch.no_grad():
        scores = ours(wavs)
    probs, _, index, labels = theirs.classify_batch(wavs)
    assert scores.shape == (4, 3) and ours.labels == LABELS
    torch.testing.assert_close(scores, probs, rtol=1e-5, atol=1e-6)
    assert scores.argmax(1).tolist() == index.tolist()
    assert [ours.labels[i] for i in scores.argmax(1)] == labels
    assert not any(p.requires_grad for p in ours.parameters())


def test_gradients_reach_the_input(folders):
    """The explainer trains through the classifier: its scores are differentiable in the waveform."""
    model = load_encoder_classifier(folders["ecapa"])
    wav = torch.randn(1, 16000, requires_grad=True)
    model(wav)[0, 1].backward()
    assert wav.grad is not None and float(wav.grad.abs().sum()) > 0


def _edited(tmp_path, source, name, edit):
    folder = tmp_path / name
    folder.mkdir()
    for file in os.listdir(source):
        with open(os.path.join(source, file), "rb") as f:
            data = f.read()
        (folder / file).write_bytes(data)
    edit(folder)
    return str(folder)


@pytest.mark.parametrize(
    "name, edit, message",
    [
        (
            "no_classifier",
            lambda d: (  # the head is called something else
                (d / "hyperparams.yaml").write_text((d / "hyperparams.yaml").read_text().replace("classifier", "head")),
                (d / "classifier.ckpt").rename(d / "head.ckpt"),
            ),
            "no 'classifier' entry",
        ),
        ("no_yaml", lambda d: (d / "hyperparams.yaml").unlink(), "no hyperparams.yaml"),
        ("no_weights", lambda d: (d / "classifier.ckpt").unlink(), "pretrainer path (classifier) not found"),
        (
            "wrong_labels",
            lambda d: (d / "hyperparams.yaml").write_text(
                (d / "hyperparams.yaml").read_text().replace("out_neurons: 3", "out_neurons: 5")
            ),
            "could not load the checkpoints",  # the checkpoint no longer fits the declared head
        ),
        (
            "global_norm_not_loaded",  # statistics the pretrainer never loads: the features cannot be normalised
            lambda d: (d / "hyperparams.yaml").write_text(
                (d / "hyperparams.yaml").read_text().replace("norm_type: sentence", "norm_type: global")
            ),
            "the classifier fails on one second of silence",
        ),
        (
            "embedding_head",
            lambda d: (d / "label_encoder.txt").write_text(
                "'dog' => 0\n'rain' => 1\n================\n'starting_index' => 0\n"
            ),
            "'classifier' gives 3 scores per input, 'label_encoder' has 2 labels",
        ),
    ],
)
def test_a_folder_with_a_missing_or_wrong_entry_is_named(folders, tmp_path, name, edit, message):
    folder = _edited(tmp_path, folders["ecapa"], name, edit)
    with pytest.raises((EncoderFolderError, SourceNotFoundError), match="hyperparams.yaml") as err:
        load_encoder_classifier(folder, savedir=str(tmp_path / "save"))
    assert message in str(err.value)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(SourceNotFoundError, match="EncoderClassifier folder not found"):
        load_encoder_classifier(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("family", ["ecapa", "xvector"])
def test_the_masked_spectrum_reaches_the_classifier_as_its_own_features(folders, family):
    """The explainer's front end is the features' STFT: unmasked, the spectral path gives the folder's features
    and scores; its ISTFT gives the waveform back."""
    model = load_encoder_classifier(folders[family])
    fe = model.frontend()
    assert (fe.n_fft, fe.win_length, fe.hop_length) == (400, 400, 160)
    wavs = torch.randn(2, 20000, generator=torch.Generator().manual_seed(5)) * 0.1
    logmag, phase = fe.log_magnitude_phase(wavs)
    with torch.no_grad():
        torch.testing.assert_close(model.spectral_features(logmag), model.features(wavs), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(model.scores(model.spectral_features(logmag)), model(wavs), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fe.invert(logmag, phase, 20000), wavs, rtol=0, atol=1e-4)


def test_features_other_than_fbank_are_refused(folders):
    model = load_encoder_classifier(folders["ecapa"])
    model.compute_features = torch.nn.Identity()
    with pytest.raises(EncoderFolderError, match="compute_features is Identity"):
        model.frontend()


def test_a_trained_encoder_exports_as_a_folder_speechbrain_loads(tmp_path):
    """build -> train -> export: SpeechBrain's EncoderClassifier loads the folder with no overrides and decides
    as our loader does; the training's logit scale travels in the folder."""
    from encoder_models import tiny_ecapa, toy_tones, train_on_tones

    from lmac_brain.interface.encoder_export import EXPORT_FILES, export_encoder_classifier

    torch.manual_seed(0)
    model = tiny_ecapa(3)
    parts = ("compute_features", "mean_var_norm", "embedding_model", "classifier")
    train_on_tones({name: getattr(model, name) for name in parts}, steps=30, logit_scale=20.0)
    labels = tmp_path / "labels.txt"
    labels.write_text("'low' => 0\n'mid' => 1\n'high' => 2\n================\n'starting_index' => 0\n", "utf-8")
    out = export_encoder_classifier(str(tmp_path / "ecapa"), model, str(labels), {"test_acc": 1.0}, logit_scale=20.0)
    assert sorted(os.listdir(out)) == sorted(EXPORT_FILES)
    theirs = EncoderClassifier.from_hparams(source=out, savedir=str(tmp_path / "sb"))
    ours = load_encoder_classifier(out, savedir=str(tmp_path / "ours"))
    wavs, truth = toy_tones(24, seed=77)
    probs, _, index, text = theirs.classify_batch(wavs)
    with torch.no_grad():
        torch.testing.assert_close(ours(wavs), probs, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(model.eval()(wavs), probs, rtol=1e-5, atol=1e-6)
    assert index.tolist() == truth.tolist()  # the tones were learned
    assert text[:3] == [ours.labels[i] for i in index[:3]] and ours.logit_scale == 20.0
    with pytest.raises(FileExistsError):
        export_encoder_classifier(out, model, str(labels), {})


def test_mfcc_features_from_the_masked_spectrum():
    """MFCC with deltas and context, as SpeechBrain computes it: the spectral path gives the same features."""
    from speechbrain.lobes.features import MFCC
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier

    from lmac_brain.models.encoder_classifier import EncoderClassifierModel

    mfcc = MFCC(n_mels=20, n_mfcc=13, deltas=True, context=True, left_frames=2, right_frames=2)
    model = EncoderClassifierModel(
        mfcc, ECAPA_TDNN(13 * 3 * 5, channels=[8, 8, 8, 8, 24], lin_neurons=4), Classifier(4, out_neurons=2)
    ).eval()
    wavs = torch.randn(2, 12000, generator=torch.Generator().manual_seed(2)) * 0.1
    with torch.no_grad():
        feats = model.features(wavs)
        torch.testing.assert_close(
            model.spectral_features(model.frontend().log_magnitude(wavs)), feats, rtol=1e-4, atol=1e-3
        )
    assert feats.shape[-1] == 13 * 3 * 5


def test_a_classifier_folder_inside_a_hub_repository(folders, tmp_path, monkeypatch):
    """``owner/name/classifier`` (an encoder interpreter's classifier published on the hub): its files are fetched
    from the repository's subfolder into one local folder and loaded from there (a fake hub serves them)."""
    import shutil

    from lmac_brain.models import encoder_folder

    hub = tmp_path / "hub" / "someone" / "lmac-ecapa"
    shutil.copytree(folders["xvector"], hub / "classifier")
    fetched = []

    def fake_fetch(filename, source, savedir=None, save_filename=None, **kwargs):
        fetched.append(filename)
        src = tmp_path / "hub" / source / filename
        if savedir is None:
            return src
        os.makedirs(savedir, exist_ok=True)
        shutil.copyfile(src, os.path.join(savedir, save_filename))
        return os.path.join(savedir, save_filename)

    monkeypatch.setattr(encoder_folder, "fetch", fake_fetch)
    monkeypatch.chdir(tmp_path)  # no local folder "someone"
    model = load_encoder_classifier("someone/lmac-ecapa/classifier", savedir=str(tmp_path / "save"))
    local = load_encoder_classifier(folders["xvector"])
    assert sorted(fetched) == sorted(f"classifier/{n}" for n in os.listdir(hub / "classifier"))
    wavs = torch.randn(2, 8000, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(model(wavs), local(wavs))
