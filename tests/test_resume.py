"""kill -9 in the middle of an epoch, resume with the same command, end where an uninterrupted run ends.

Both training recipes (classifier and L-MAC) run on the generated ESC-50-shaped folder with tiny
configs. Intra-epoch checkpoints are taken every step (``--ckpt_interval_minutes 0 --ckpt_interval_steps 1``); the run
kills itself with SIGKILL right after the first one of epoch 2 (``tests/kill_point.py``: a point the test chooses,
whatever the machine's speed), and the same command is started again. The
resumed run must write the same per-epoch log, the same test metrics and the same final weights as a
run that was never interrupted: on CPU the stream of random numbers is restored from the checkpoint
(:mod:`lmac_brain.training.rng`, and the training noise mixer's generator), so the tolerance is exact equality
of the logs and ``1e-6`` on the weights.
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from limits import HANG_S

from lmac_brain.interface.export import export_classifier
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.frontend import Frontend
from lmac_brain.training.curve import training_curve

pytestmark = pytest.mark.slow  # recipe runs in subprocesses, killed and resumed

CLASSIFIER = [
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
KILL_POINT = Path(__file__).with_name("kill_point.py")
LMAC = [
    "--batch_size",
    "2",
    "--train_crop_s",
    "0.5",
    "--download",
    "False",
    "--n_listen_valid",
    "0",
    "--n_listen_test",
    "0",
]


def _intra_epoch_checkpoint_after_epoch_1(out):
    """True once an end-of-epoch checkpoint and a later intra-epoch one exist: training is mid-epoch 2+."""
    metas = [p.read_text(encoding="utf-8") for p in (out / "save").glob("CKPT+*/CKPT.yaml")]
    return any("brain_intra_epoch_ckpt" in m for m in metas) and any("brain_intra_epoch_ckpt" not in m for m in metas)


def _kill_mid_epoch_then_resume(cmd, out, cwd):
    """Run ``cmd`` (``[python, recipe, args...]``) under ``tests/kill_point.py``, which kills it with SIGKILL
    right after its first intra-epoch checkpoint of epoch 2, then start the same command again."""
    killed = subprocess.run(
        [cmd[0], str(KILL_POINT), "mid-epoch-2", *cmd[1:]], cwd=cwd, capture_output=True, text=True, timeout=HANG_S
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-3000:] + killed.stderr[-3000:]
    assert _intra_epoch_checkpoint_after_epoch_1(out)
    resumed = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=HANG_S)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    return resumed.stdout + resumed.stderr


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _epoch_lines(out):
    """The last logged line of every epoch (a run killed after logging an epoch but before its
    checkpoint was complete logs that epoch again when it resumes)."""
    last = {}
    for line in (out / "train_log.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("epoch:"):
            last[line.split(",")[0]] = line
    return list(last.values())


def _same_weights(a, b):
    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.allclose(sa[key].float(), sb[key].float(), atol=1e-6), key


def _compare(plain, resumed, files):
    assert _epoch_lines(resumed) == _epoch_lines(plain)
    for name in files:
        _same_weights(plain / name, resumed / name)


@pytest.mark.parametrize("tiny_esc50", ["flac"], indirect=True)
def test_classifier_killed_mid_epoch_resumes_to_the_same_result(tiny_esc50, noise_folder, repo_root, tmp_path):
    def command(out):
        return [
            sys.executable,
            str(repo_root / "recipes/ESC50/interpret/train_classifier.py"),
            str(repo_root / "hparams/classifier_cnn14_cpu.yaml"),
            "--data_folder",
            str(tiny_esc50),
            "--noise_folder",
            str(noise_folder),
            "--noise_prob",
            "0.5",
            "--output_folder",
            str(out),
            "--number_of_epochs",
            "3",
            "--ckpt_interval_minutes",
            "0",
            "--ckpt_interval_steps",
            "1",
            *CLASSIFIER,
        ]

    plain, killed = tmp_path / "plain", tmp_path / "killed"
    _run(command(plain), tmp_path)
    log = _kill_mid_epoch_then_resume(command(killed), killed, tmp_path)
    assert "Loading a checkpoint" in log
    _compare(plain, killed, ["classifier/embedding_model.ckpt", "classifier/classifier.ckpt"])
    metrics = [json.loads((o / "classifier" / "metrics.json").read_text(encoding="utf-8")) for o in (plain, killed)]
    assert metrics[0]["test_acc"] == metrics[1]["test_acc"] and metrics[0]["epochs"] == metrics[1]["epochs"] == 3


# The recipe's six phases, one or two epochs each: a kill in the middle of epoch 2 is in the middle of phase 2.
OFF = "parts_off: [time_gate, fine_channels, coarse_blocks]"
SCHEDULE = (
    "[{epochs: 1, lr: 0.001, budget_weight: 1.0, budget_w_del: 4.0, event_mix_share: 0.0, "
    f"target_sampling: {{decision: 0.4, top_k: 0.45, k: 5, random: 0.15}}, {OFF}}}, "
    f"{{epochs: 2, lr: 0.001, budget_weight: 1.0, event_mix_share: 0.0, {OFF}}}, "
    f"{{epochs: 1, budget_weight: 1.0, event_mix_share: 0.0, {OFF}}}, "
    "{epochs: 1, budget_weight: 1.0, event_mix_share: 0.0, parts_off: [fine_channels, coarse_blocks]}, "
    "{epochs: 1}, {epochs: 1, lr: 0.0001, gate_slope: 1.25}]"
)


def test_lmac_schedule_killed_mid_phase_2_resumes_to_the_same_result(tiny_esc50, noise_folder, repo_root, tmp_path):
    """The default L-MAC config's schedule (every phase, shrunk to 7 epochs): killed in the middle of its
    second phase (the decoder without its optional parts), resumed by the same command, it ends where an
    uninterrupted run ends; the parts left out until phase 4 or 5 trained only from there."""
    torch.manual_seed(0)
    clf = AudioClassifier(Cnn14(80, 32, 0.0625, return_reps=True), torch.nn.Linear(32, 2))
    labels = tmp_path / "label_encoder.txt"
    labels.write_text("'dog' => 0\n'chirping_birds' => 1\n================\n'starting_index' => 0\n", encoding="utf-8")
    source = export_classifier(str(tmp_path / "classifier"), Frontend(), clf, str(labels), {})

    def command(out):
        return [
            sys.executable,
            str(repo_root / "recipes/ESC50/interpret/train_lmac.py"),
            str(repo_root / "hparams/lmac_cnn14_cpu.yaml"),
            "--data_folder",
            str(tiny_esc50),
            "--noise_folder",
            str(noise_folder),
            "--classifier_source",
            source,
            "--output_folder",
            str(out),
            "--schedule",
            SCHEDULE,
            "--ckpt_interval_minutes",
            "0",
            "--ckpt_interval_steps",
            "1",
            *LMAC,
        ]

    plain, killed = tmp_path / "plain", tmp_path / "killed"
    _run(command(plain), tmp_path)
    lines = _epoch_lines(plain)
    phases = [line.split("phase: ")[1].split(",")[0] for line in lines]
    lrs = [line.split("lr: ")[1].split(" ")[0] for line in lines]
    assert phases == ["1", "2", "2", "3", "4", "5", "6"], lines
    assert lrs == ["1.00e-03"] * 3 + ["5.00e-04"] * 3 + ["1.00e-04"], lines
    log = _kill_mid_epoch_then_resume(command(killed), killed, tmp_path)
    assert "Loading a checkpoint" in log and "epoch 2: schedule phase 2 of 6" in log
    _compare(plain, killed, ["decoder.ckpt"])
    results = [json.loads((o / "results.json").read_text(encoding="utf-8")) for o in (plain, killed)]
    assert results[0]["test"] == results[1]["test"]
    # the last phase held the time gate at slope 1.25; the test stage loaded a checkpoint of that phase
    assert float(torch.load(plain / "decoder.ckpt", weights_only=True)["gate"][0]) == 1.25
    assert results[0]["selected_epoch"] == 7
    # the fine stack and residual blocks joined in phase 5, from zero weight / the identity: they trained since
    weights = torch.load(plain / "decoder.ckpt", weights_only=True)
    assert float(weights["head.0.weight"][:, 17:].abs().max()) > 0  # out_channels 16 + Mel: the fine features
    assert float(weights["coarse.0.2.weight"].abs().max()) > 0
    # the quality-vs-hours curve of both runs: every epoch timed by its completed run (the killed partial
    # epoch and the gap before the resume are not counted)
    for out in (plain, killed):
        rows = training_curve(*((out / n).read_text(encoding="utf-8") for n in ("log.txt", "train_log.txt")))
        assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5, 6, 7]
        assert [r["phase"] for r in rows] == [1, 2, 2, 3, 4, 5, 6]
        assert all(b["hours"] > a["hours"] > 0 for a, b in zip(rows, rows[1:]))
    script = repo_root / "recipes/ESC50/interpret/training_curve.py"
    png = tmp_path / "curve.png"
    shown = subprocess.run(
        [sys.executable, str(script), str(killed), "--every", "2", "--png", str(png)],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert shown.returncode == 0, shown.stderr
    table = [line for line in shown.stdout.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in table[1:]] == ["| 2", "| 4", "| 6", "| 7"] and png.stat().st_size > 1000
