"""The recipes on an ECAPA-TDNN: the classifier recipe (hparams/classifier_ecapa_cpu.yaml) learns and exports a
SpeechBrain EncoderClassifier folder that SpeechBrain loads and that decides as our loader does; the L-MAC recipe
(hparams/lmac_ecapa_cpu.yaml) trains on that folder and exports an interpreter that `lmac explain` uses."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from encoder_models import tiny_ecapa
from speechbrain.inference.classifiers import EncoderClassifier

from conftest import TOY_TRAINING_ARGS, eval_command, run_recipe, write_noise_folder, write_separable_esc50

#: Small encoders for the 2-class toy (channels 16; the configs' 128 train ESC-50).
TOY_ENCODER_ARGS = {
    "ecapa": ("--channels", "[16, 16, 16, 16, 48]", "--attention_channels", "8"),
    "xvector": ("--tdnn_channels", "[16, 16, 16, 16, 48]"),
}
TOY_ARGS = ("--n_classes", "2", "--emb_dim", "16", *TOY_TRAINING_ARGS)


@pytest.fixture(scope="module", params=["ecapa", "xvector"])
def encoder_run(request, tmp_path_factory):
    """One run of the classifier recipe with the ECAPA (x-vector) config on the separable toy (3 epochs)."""
    family = request.param
    root, repo_root = tmp_path_factory.mktemp(family), Path(__file__).resolve().parents[1]
    data, noise, out = write_separable_esc50(root / "data"), write_noise_folder(root / "noise"), root / "exp"
    cmd = [
        sys.executable,
        str(repo_root / "recipes/ESC50/interpret/train_classifier.py"),
        str(repo_root / f"hparams/classifier_{family}_cpu.yaml"),
        "--data_folder",
        str(data),
        "--noise_folder",
        str(noise),
        "--output_folder",
        str(out),
        "--number_of_epochs",
        "3",
        *TOY_ARGS,
        *TOY_ENCODER_ARGS[family],
    ]
    run_recipe(cmd, root)
    return {"data": data, "noise": noise, "out": out, "family": family}


def test_ecapa_classifier_recipe_learns_and_exports_an_encoder_classifier(encoder_run, tmp_path):
    from lmac_brain.data.audio import load_audio
    from lmac_brain.models.encoder_folder import load_encoder_classifier

    data, folder = encoder_run["data"], encoder_run["out"] / "classifier"
    metrics = json.loads((folder / "metrics.json").read_text("utf-8"))
    assert metrics["test_acc"] >= 0.9, metrics["test_acc"]  # chance is 0.5
    theirs = EncoderClassifier.from_hparams(source=str(folder), savedir=str(tmp_path / "sb"))
    ours = load_encoder_classifier(str(folder))
    wavs = torch.stack([load_audio(p, 16000) for p in sorted((data / "audio").glob("5-*.flac"))])
    probs, _, index, labels = theirs.classify_batch(wavs)
    with torch.no_grad():
        torch.testing.assert_close(ours(wavs), probs, rtol=1e-4, atol=1e-4)  # threads order sums differently
    assert labels == [ours.labels[i] for i in index] and set(ours.labels) == {"dog", "chirping_birds"}
    assert ours.logit_scale == {"ecapa": 30.0, "xvector": 1.0}[encoder_run["family"]]


def test_lmac_recipe_on_an_encoder_classifier_folder(encoder_run, repo_root, tmp_path):
    """hparams/lmac_ecapa_cpu.yaml on the exported folder: every phase of its schedule runs (one epoch each), and
    the exported interpreter explains a file through LMACInterpreter and `lmac explain`, with the same decision.
    (That the decoder learns: tests/test_frame_decoder.py.)"""
    from lmac_brain.interface.interpreter import LMACInterpreter

    data, out = encoder_run["data"], tmp_path / "lmac"
    cmd = [
        sys.executable,
        str(repo_root / "recipes/ESC50/interpret/train_lmac.py"),
        str(repo_root / "hparams/lmac_ecapa_cpu.yaml"),
        "--data_folder",
        str(data),
        "--noise_folder",
        str(encoder_run["noise"]),
        "--classifier_source",
        str(encoder_run["out"] / "classifier"),
        "--output_folder",
        str(out),
        "--epoch_scale",
        "0.05",
        "--batch_size",
        "8",
        "--train_crop_s",
        "0.5",
        "--download",
        "False",
        "--n_listen_valid",
        "0",
        "--n_listen_test",
        "0",
        "--target_sampling",
        "{decision: 0.5, top_k: 0.0, k: 2, label: 0.5, random: 0.0}",
    ]
    run_recipe(cmd, tmp_path)
    log = (out / "train_log.txt").read_text("utf-8")
    assert [f"phase: {p}" in log for p in range(1, 6)] == [True] * 5
    interp = LMACInterpreter.from_hparams(source=str(out / "interpreter"))
    clip = sorted((data / "audio").glob("5-*.flac"))[0]
    result = interp.interpret_file(str(clip))
    assert result.mask.shape[-1] == 201 and result.labels[0] in ("dog", "chirping_birds")
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "lmac_brain.interface.cli",
            "explain",
            str(clip),
            "--source",
            str(out / "interpreter"),
            "--out",
            str(tmp_path / "cli"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr[-2000:]
    record = json.loads(next((tmp_path / "cli").glob("*.json")).read_text("utf-8"))
    assert record["label"] == result.labels[0]


ENCODER_METHODS = {
    "L-MAC",
    "Energy",
    "Random",
    "Saliency",
    "SmoothGrad",
    "IntegratedGradients",
    "GradientSHAP",
    "GuidedBackprop",
    "RISE",
    "Optimized",
}


@pytest.mark.parametrize("tiny_esc50", ["flac"], indirect=True)
def test_eval_on_an_encoder_interpreter(tiny_esc50, noise_folder, repo_root, tmp_path):
    """eval.py with hparams/eval_ecapa_cpu.yaml: every method that applies, on every set."""
    import csv

    from lmac_brain.interface.encoder_export import export_encoder_classifier
    from lmac_brain.interface.export import save_decoder
    from lmac_brain.models.encoder_classifier import EncoderAudioClassifier
    from lmac_brain.models.frame_decoder import frame_decoder_for

    torch.manual_seed(0)
    model = tiny_ecapa(2, with_norm=False).eval()
    labels = tmp_path / "labels.txt"
    labels.write_text("'dog' => 0\n'chirping_birds' => 1\n================\n'starting_index' => 0\n", "utf-8")
    source = export_encoder_classifier(str(tmp_path / "clf"), model, str(labels), {}, logit_scale=30.0)
    decoder = frame_decoder_for(EncoderAudioClassifier(model), model.frontend())
    save_decoder(str(tmp_path / "lmac"), decoder, {})
    out = tmp_path / "eval"
    cmd = eval_command("eval_ecapa_cpu.yaml", tiny_esc50, noise_folder, source, tmp_path / "lmac" / "decoder.ckpt", out)
    run_recipe(cmd, tmp_path)
    with open(out / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    sets = {"in_domain", "mixtures", "speech", "white_noise", "localization", "sanity", "targeted"}
    assert {(r["set"], r["method"]) for r in rows} == {(s, m) for s in sets for m in ENCODER_METHODS}
