"""The classifier recipe on an ECAPA-TDNN (hparams/classifier_ecapa_cpu.yaml): it learns, and its export is a
SpeechBrain EncoderClassifier folder that SpeechBrain loads and that decides as our loader does."""

import json
import sys

import torch
from speechbrain.inference.classifiers import EncoderClassifier

from conftest import run_recipe, write_noise_folder, write_separable_esc50

#: A small ECAPA for the 2-class toy (channels 16; the config's 128 train ESC-50).
TOY_ECAPA_ARGS = (
    "--n_classes",
    "2",
    "--channels",
    "[16, 16, 16, 16, 48]",
    "--attention_channels",
    "8",
    "--emb_dim",
    "16",
    "--batch_size",
    "8",
    "--train_crop_s",
    "0.5",
    "--warmup_steps",
    "2",
    "--lr",
    "0.01",
    "--download",
    "False",
)


def test_ecapa_classifier_recipe_learns_and_exports_an_encoder_classifier(repo_root, tmp_path):
    from lmac_brain.data.audio import load_audio
    from lmac_brain.models.encoder_folder import load_encoder_classifier

    data, noise, out = (
        write_separable_esc50(tmp_path / "data"),
        write_noise_folder(tmp_path / "noise"),
        tmp_path / "exp",
    )
    cmd = [
        sys.executable,
        str(repo_root / "recipes/ESC50/interpret/train_classifier.py"),
        str(repo_root / "hparams/classifier_ecapa_cpu.yaml"),
        "--data_folder",
        str(data),
        "--noise_folder",
        str(noise),
        "--output_folder",
        str(out),
        "--number_of_epochs",
        "3",
        *TOY_ECAPA_ARGS,
    ]
    run_recipe(cmd, tmp_path)
    folder = out / "classifier"
    metrics = json.loads((folder / "metrics.json").read_text("utf-8"))
    assert metrics["test_acc"] >= 0.9, metrics["test_acc"]  # chance is 0.5
    theirs = EncoderClassifier.from_hparams(source=str(folder), savedir=str(tmp_path / "sb"))
    ours = load_encoder_classifier(str(folder))
    wavs = torch.stack([load_audio(p, 16000) for p in sorted((data / "audio").glob("5-*.flac"))])
    probs, _, index, labels = theirs.classify_batch(wavs)
    with torch.no_grad():
        torch.testing.assert_close(ours(wavs), probs, rtol=1e-5, atol=1e-5)
    assert labels == [ours.labels[i] for i in index] and set(ours.labels) == {"dog", "chirping_birds"}
    assert ours.logit_scale == 30.0
