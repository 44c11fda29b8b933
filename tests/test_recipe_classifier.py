"""Integration tests of the classifier recipe on a generated ESC-50-shaped folder.

They run ``recipes/ESC50/interpret/train_classifier.py`` as a user would (a subprocess), with the CPU
config shrunk to a tiny width so that an epoch takes about a second.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TINY = [
    "--n_classes", "2", "--width", "0.0625", "--emb_dim", "32", "--batch_size", "2",
    "--train_crop_s", "0.5", "--warmup_steps", "2", "--download", "False",
]


def _command(repo_root, data, out, epochs, extra=()):
    return [
        sys.executable, str(repo_root / "recipes/ESC50/interpret/train_classifier.py"),
        str(repo_root / "hparams/classifier_cnn14_cpu.yaml"), "--data_folder", str(data),
        "--output_folder", str(out), "--number_of_epochs", str(epochs), *TINY, *extra,
    ]


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _files(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("tiny_esc50", ["flac"], indirect=True)
def test_one_epoch_debug_run_trains_tests_and_exports(tiny_esc50, noise_folder, repo_root, tmp_path):
    before = _files(tiny_esc50)
    out = tmp_path / "exp"
    log = _run(_command(repo_root, tiny_esc50, out, 1, ["--noise_folder", str(noise_folder), "--noise_prob", "1.0"]), tmp_path)
    assert "epoch: 1" in log and "test acc" in log
    assert _files(tiny_esc50) == before, "the recipe wrote into the dataset folder"
    for split in ("train", "valid", "test"):
        assert (out / "save" / f"{split}.csv").is_file()
    export = out / "classifier"
    assert sorted(os.listdir(export)) == sorted(
        ["hyperparams.yaml", "embedding_model.ckpt", "classifier.ckpt", "label_encoder.txt", "metrics.json"]
    )
    metrics = json.loads((export / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["epochs"] == 1 and 0.0 <= metrics["test_acc"] <= 1.0
    assert metrics["test_folds"] == [5]


def test_resume_after_kill(tiny_esc50, repo_root, tmp_path):
    out = tmp_path / "exp"
    cmd = _command(repo_root, tiny_esc50, out, 4)
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    try:
        # Wait for a complete end-of-epoch checkpoint (the optimizer is the last file written).
        while not list((out / "save").glob("CKPT+*/optimizer.ckpt")):
            assert proc.poll() is None, "training ended before it could be interrupted"
            assert time.time() < deadline, "no checkpoint within 240 s"
            time.sleep(0.02)
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (out / "classifier").exists(), "killed run must not have exported"

    log = _run(cmd, tmp_path)
    assert "Loading a checkpoint" in log
    assert "Going into epoch 1\n" not in log, "resumed run started over"
    train_log = (out / "train_log.txt").read_text(encoding="utf-8")
    epochs = [int(line.split("epoch: ")[1].split(",")[0]) for line in train_log.splitlines() if "epoch: " in line]
    assert epochs[-1] == 4 and epochs == sorted(epochs)
    assert json.loads((out / "classifier" / "metrics.json").read_text(encoding="utf-8"))["epochs"] == 4
