"""Integration tests of the classifier recipe on generated ESC-50-shaped folders.

They run ``recipes/ESC50/interpret/train_classifier.py`` as a user would (a subprocess), with the CPU
config shrunk to a tiny width so that an epoch takes seconds. The learning test reads the session's toy
run (``toy_classifier_run`` in conftest.py: tones vs noise bursts, 16 clips per fold) and requires at least
90% test accuracy, which a model that does not learn (e.g. ``--lr 0``) cannot reach (it scores 50%).
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_S

pytestmark = pytest.mark.slow  # recipe runs in subprocesses

TINY = [
    "--n_classes",
    "2",
    "--width",
    "0.0625",
    "--emb_dim",
    "32",
    "--batch_size",
    "2",
    "--train_crop_s",
    "0.5",
    "--warmup_steps",
    "2",
    "--download",
    "False",
]


def _command(repo_root, data, out, epochs, extra=()):
    return [
        sys.executable,
        str(repo_root / "recipes/ESC50/interpret/train_classifier.py"),
        str(repo_root / "hparams/classifier_cnn14_cpu.yaml"),
        "--data_folder",
        str(data),
        "--output_folder",
        str(out),
        "--number_of_epochs",
        str(epochs),
        *TINY,
        *extra,
    ]


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _files(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_toy_run_learns_tests_and_exports_with_confusion_matrix(toy_classifier_run):
    out, log = toy_classifier_run["out"], toy_classifier_run["log"]
    assert "epoch: 3" in log and "test acc" in log and "test bal_acc" in log
    assert _files(toy_classifier_run["data"]) == toy_classifier_run["data_files"], (
        "the recipe wrote into the dataset folder"
    )
    for split in ("train", "valid", "test"):
        assert (out / "save" / f"{split}.csv").is_file()
    export = out / "classifier"
    assert sorted(os.listdir(export)) == sorted(
        [
            "hyperparams.yaml",
            "embedding_model.ckpt",
            "classifier.ckpt",
            "label_encoder.txt",
            "metrics.json",
            "confusion_matrix.png",
        ]
    )
    metrics = json.loads((export / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["epochs"] == 3 and metrics["test_folds"] == [5] and metrics["clips"]["test"] == 16
    assert metrics["test_acc"] >= 0.9, f"the classifier did not learn the separable toy classes: {metrics}"
    matrix = metrics["test_confusion"]["matrix"]
    assert metrics["test_confusion"]["classes"] == metrics["classes"] == ["dog", "chirping_birds"]
    assert [sum(row) for row in matrix] == [8, 8]  # rows are the true classes of the 16 fold-5 clips
    assert metrics["test_acc"] == pytest.approx((matrix[0][0] + matrix[1][1]) / 16)
    recall = metrics["test_per_class_recall"]
    assert recall == {"dog": matrix[0][0] / 8, "chirping_birds": matrix[1][1] / 8}
    assert metrics["test_bal_acc"] == pytest.approx((recall["dog"] + recall["chirping_birds"]) / 2)
    assert metrics["train_class_counts"] == {"chirping_birds": 24, "dog": 24} and not metrics["class_balanced_sampling"]


def test_resume_after_kill(tiny_esc50, repo_root, tmp_path):
    out = tmp_path / "exp"
    cmd = _command(repo_root, tiny_esc50, out, 4)
    # The run kills itself (SIGKILL) right after its first end-of-epoch checkpoint is complete
    # (tests/kill_point.py): a point the test chooses, not a race against the machine's speed.
    killed = subprocess.run(
        [cmd[0], str(Path(__file__).with_name("kill_point.py")), "after-epoch-1", *cmd[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:] + killed.stderr[-3000:]
    assert not (out / "classifier").exists(), "killed run must not have exported"

    log = _run(cmd, tmp_path)
    assert "Loading a checkpoint" in log
    assert "Going into epoch 1\n" not in log, "resumed run started over"
    train_log = (out / "train_log.txt").read_text(encoding="utf-8")
    epochs = [int(line.split("epoch: ")[1].split(",")[0]) for line in train_log.splitlines() if "epoch: " in line]
    assert epochs[-1] == 4 and epochs == sorted(epochs)
    assert json.loads((out / "classifier" / "metrics.json").read_text(encoding="utf-8"))["epochs"] == 4
