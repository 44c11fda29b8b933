"""Integration test of the one-command evaluation on generated data (tiny classifier and decoder)."""

import csv
import json
import subprocess

import pytest
import torch
from limits import HANG_S

from conftest import eval_command
from lmac_brain.interface.export import export_classifier, save_decoder
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend

pytestmark = pytest.mark.slow  # the evaluation recipe in a subprocess

METHODS = {
    "L-MAC",
    "Energy",
    "Random",
    "Saliency",
    "SmoothGrad",
    "IntegratedGradients",
    "GradientSHAP",
    "GradCAM",
    "GuidedBackprop",
    "GuidedGradCAM",
    "RISE",
    "Optimized",
}
SETS = {"in_domain", "mixtures", "speech", "white_noise", "localization", "sanity", "targeted"}


@pytest.mark.parametrize("tiny_esc50", ["flac"], indirect=True)
def test_eval_writes_every_method_on_every_set(tiny_esc50, noise_folder, repo_root, tmp_path):
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
    out = tmp_path / "eval"
    cmd = eval_command("eval_cnn14_cpu.yaml", tiny_esc50, noise_folder, source, tmp_path / "lmac" / "decoder.ckpt", out)
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(out / "results.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["set"], r["method"]) for r in rows} == {(s, m) for s in SETS for m in METHODS}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["in_domain"]["L-MAC"]["AI"]["n"] == 4  # 2 fold-5 clips x 2 contaminations
    assert "sec/clip" in summary["mixtures"]["RISE"] and "IoU" in summary["localization"]["GradCAM"]
    assert "### in_domain" in (out / "summary.md").read_text(encoding="utf-8")
    # matched-budget metrics first, for every method including the floors; the listening round trip
    for method in ("L-MAC", "Energy", "Random", "Optimized"):
        stats = summary["white_noise"][method]
        assert {"Ins AUC", "Del AUC", "Ins AUC (energy)", "Del AUC (energy)", "Listen@0.1", "Ins@0.05"} <= set(stats)
    first_table = (out / "summary.md").read_text(encoding="utf-8").split("### in_domain")[1]
    assert first_table.index("Ins AUC") < first_table.index("| AI")
    assert "IoU (matched)" in summary["localization"]["L-MAC"]
    for set_name in ("in_domain", "mixtures", "speech", "white_noise"):
        assert (out / f"budget_curves_{set_name}.png").read_bytes()[:4] == b"\x89PNG"
    # the targeted set: each in-domain item's 2nd class, explained and scored for that class
    targeted = [r for r in rows if r["set"] == "targeted" and r["method"] == "L-MAC"]
    assert len(targeted) == 4 and all(r["item"].endswith("#2") for r in targeted)
    assert {"Rise", "Ins AUC", "Del AUC", "sec/clip"} <= set(summary["targeted"]["L-MAC"])
