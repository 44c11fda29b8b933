"""The evaluation under torchrun (2 processes, gloo on CPU) writes the same results as one process.

Each rank explains a round-robin shard of every set (and of the localization and sanity items); rank 0
gathers the rows in item order. Only the timing column (``sec/clip``) may differ; every metric must
agree to float rounding (batched convolutions over other batch compositions).
"""

import csv
import os
import subprocess
import sys

import pytest
import torch
from limits import HANG_S

from lmac_brain.interface.export import export_classifier, save_decoder
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend

pytestmark = pytest.mark.slow  # torchrun


def _rows(folder):
    with open(folder / "results.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(), reason="torch without gloo"
)
@pytest.mark.parametrize("tiny_esc50", ["flac"], indirect=True)
def test_two_process_evaluation_equals_one_process(tiny_esc50, noise_folder, repo_root, tmp_path):
    torch.manual_seed(0)
    emb = Cnn14(80, 32, 0.0625, return_reps=True)
    clf = AudioClassifier(emb, torch.nn.Linear(32, 2))
    labels = tmp_path / "label_encoder.txt"
    labels.write_text("'dog' => 0\n'chirping_birds' => 1\n================\n'starting_index' => 0\n", encoding="utf-8")
    source = export_classifier(str(tmp_path / "clf"), Frontend(), clf, str(labels), {})
    # a decoder of the shipped kind: eval_cnn14_cpu.yaml's decoder options are the shipped decoder's
    decoder = LMACDecoder(
        rep_channels(emb),
        spec_gain=False,
        conditional=True,
        class_code=16,
        fine_channels=8,
        time_gate=True,
        coarse_blocks=2,
    )
    save_decoder(str(tmp_path / "lmac"), decoder, {})
    args = [
        str(repo_root / "recipes/ESC50/interpret/eval.py"),
        str(repo_root / "hparams/eval_cnn14_cpu.yaml"),
        "--data_folder",
        str(tiny_esc50),
        "--noise_folder",
        str(noise_folder),
        "--speech_folder",
        str(noise_folder),
        "--classifier_source",
        source,
        "--decoder_ckpt",
        str(tmp_path / "lmac" / "decoder.ckpt"),
        "--n_per_clip",
        "3",
        "--batch_size",
        "2",
        "--sanity_clips",
        "3",
        "--localization_event_s",
        "0.2",
        "--methods",
        "[L-MAC, Energy, Random, Saliency]",
        "--targeted_ranks",
        "[2]",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run(
        [sys.executable, *args, "--output_folder", str(tmp_path / "one")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env=env,
    )
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            *args,
            "--output_folder",
            str(tmp_path / "two"),
            "--distributed_backend",
            "gloo",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env=env,
    )
    assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-3000:]
    a, b = _rows(tmp_path / "one"), _rows(tmp_path / "two")
    assert len(a) == len(b) > 0
    assert {r["set"] for r in a} == {
        "in_domain",
        "mixtures",
        "speech",
        "white_noise",
        "localization",
        "sanity",
        "targeted",
    }
    for ra, rb in zip(a, b):
        assert (ra["set"], ra["method"], ra["item"]) == (rb["set"], rb["method"], rb["item"])
        for key in ra:
            if key in ("set", "method", "item", "sec/clip") or ra[key] == rb[key]:
                continue
            assert float(ra[key]) == pytest.approx(float(rb[key]), abs=1e-5), (ra["item"], key)
