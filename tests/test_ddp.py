"""Multi-process training through SpeechBrain's DDP (torchrun, 2 processes, gloo on CPU).

The L-MAC recipe is trained with two processes; then the same command is run with one process on the
finished folder, which only re-tests the selected checkpoint. Both test stages score the same weights,
so the 2-process metrics (each rank scores its half of the test fold, then ``reduce_mean`` all-reduces)
must equal the 1-process metrics, to 1e-5. Whole trajectories are not compared: with two processes
every rank sees a different half of each batch and batch norm keeps per-rank statistics, so the
weights legitimately differ from a 1-process run's. The test also checks that the epochs are logged,
and the checkpoint and the exported interpreter written, once (by rank 0). The validation loss that
drives checkpoint selection and ``ReduceLROnPlateau`` goes through the same ``reduce_mean`` as these
test metrics, so every rank selects and schedules alike.
"""

import json
import os
import subprocess
import sys

import pytest
import torch
from limits import HANG_S

from lmac_brain.interface.export import export_classifier
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.frontend import Frontend

pytestmark = pytest.mark.slow  # torchrun and two-process gloo groups

TINY = [
    "--batch_size",
    "1",
    "--train_crop_s",
    "0.5",
    "--download",
    "False",
    "--n_listen_valid",
    "0",
    "--n_listen_test",
    "0",
    "--number_of_epochs",
    "2",
]


@pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(), reason="torch without gloo"
)
def test_two_process_run_reduces_metrics_and_checkpoints_once(tiny_esc50, noise_folder, repo_root, tmp_path):
    torch.manual_seed(0)
    clf = AudioClassifier(Cnn14(80, 32, 0.0625, return_reps=True), torch.nn.Linear(32, 2))
    labels = tmp_path / "label_encoder.txt"
    labels.write_text("'dog' => 0\n'chirping_birds' => 1\n================\n'starting_index' => 0\n", encoding="utf-8")
    source = export_classifier(str(tmp_path / "classifier"), Frontend(), clf, str(labels), {})
    out = tmp_path / "ddp"
    args = [
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
        *TINY,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two processes on two cores
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            *args,
            "--distributed_backend",
            "gloo",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env=env,
    )
    assert ddp.returncode == 0, ddp.stdout[-4000:] + ddp.stderr[-4000:]
    two = json.loads((out / "results.json").read_text(encoding="utf-8"))
    epochs = [
        line for line in (out / "train_log.txt").read_text(encoding="utf-8").splitlines() if line.startswith("epoch:")
    ]
    assert len(epochs) == 2, "each epoch must be logged once, by rank 0"
    checkpoints = sorted((out / "save").glob("CKPT+*"))
    assert len(checkpoints) == 1 and (checkpoints[0] / "decoder.ckpt").is_file()
    assert (out / "interpreter" / "decoder.ckpt").is_file()

    one = subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S, env=env)
    assert one.returncode == 0, one.stdout[-4000:] + one.stderr[-4000:]
    single = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert single["epochs"] == 2 and "Going into epoch" not in one.stdout + one.stderr  # re-tested only
    assert two["test"].keys() == single["test"].keys()
    for name, value in two["test"].items():
        assert value == pytest.approx(single["test"][name], abs=1e-5), name


CHECKPOINT_RACE = r"""
import os, sys, time
import torch
import torch.distributed as dist
import lmac_brain.training.checkpointer as ck

rank = int(os.environ["RANK"])
dist.init_process_group("gloo", init_method="tcp://127.0.0.1:" + sys.argv[2], rank=rank, world_size=2)
if rank == 0:  # the main process publishes CKPT.yaml late, as a loaded machine may
    publish = ck.os.replace
    def late_replace(src, dst):
        time.sleep(0.5)
        publish(src, dst)
    ck.os.replace = late_replace
checkpointer = ck.AtomicCheckpointer(sys.argv[1], {"net": torch.nn.Linear(2, 2)})
for _ in range(3):
    checkpointer.save_and_keep_only(num_to_keep=1)
dist.barrier()
print("rank", rank, "done", len(checkpointer.find_checkpoints()))
dist.destroy_process_group()
"""


@pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(), reason="torch without gloo"
)
def test_ranks_list_the_same_checkpoints_when_the_main_process_publishes_late(tmp_path):
    """Regression: a rank that listed the checkpoints before the main process renamed ``CKPT.yaml`` into
    place deleted one checkpoint fewer and deadlocked SpeechBrain's ``delete_checkpoints``."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    script = tmp_path / "race.py"
    script.write_text(CHECKPOINT_RACE, encoding="utf-8")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "ckpt"), port],
            env={**os.environ, "RANK": str(r)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in (0, 1)
    ]
    try:
        outs = [p.communicate(timeout=HANG_S)[0] for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail("the two ranks deadlocked while keeping the newest checkpoint")
    assert all(p.returncode == 0 for p in procs), outs
    assert "rank 0 done 1" in outs[0] and "rank 1 done 1" in outs[1], outs
