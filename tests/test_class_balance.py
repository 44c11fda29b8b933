"""Imbalanced classes: metrics that expose a majority-class predictor, the warning, and a fine-tuning run.

The end-to-end test fine-tunes with ``recipes/custom/interpret/train_classifier.py`` (defaults, tiny width)
on a generated corpus where one class holds 84% of the clips, as in the field report that motivated this
(84.8% accuracy, 26.7% balanced accuracy). The default run must balance its sampling, say so, and reach a
balanced accuracy well above chance (1/3).
"""

import csv
import json
import logging
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from limits import HANG_S

from lmac_brain.training.class_balance import (
    class_counts,
    confusion_matrix,
    confusion_report,
    summarize_confusion,
    use_balanced_sampling,
)
from lmac_brain.training.distributed import reduce_sum

RATE = 16000


@pytest.mark.parametrize("n_classes,majority", [(2, 0), (5, 3), (50, 17)])
def test_majority_class_predictor_is_reported_as_such(n_classes, majority):
    targets = torch.arange(n_classes).repeat_interleave(torch.arange(1, n_classes + 1))  # class c has c + 1 clips
    predictions = torch.full_like(targets, majority)
    report = confusion_report(confusion_matrix(predictions, targets, n_classes), [f"c{i}" for i in range(n_classes)])
    assert report["bal_acc"] == pytest.approx(1.0 / n_classes)
    assert report["per_class_recall"] == {f"c{i}": float(i == majority) for i in range(n_classes)}
    assert report["acc"] == pytest.approx((majority + 1) / len(targets))
    assert sum(map(sum, report["confusion"]["matrix"])) == len(targets)
    assert [row[majority] for row in report["confusion"]["matrix"]] == list(range(1, n_classes + 1))


def test_confusion_counts_summed_over_batches_equal_one_pass():
    rng = torch.Generator().manual_seed(0)
    targets, predictions = torch.randint(4, (100,), generator=rng), torch.randint(4, (100,), generator=rng)
    batched = sum(confusion_matrix(p, t, 4) for p, t in zip(predictions.split(7), targets.split(7)))
    assert torch.equal(reduce_sum(batched), confusion_matrix(predictions, targets, 4))
    summary = summarize_confusion(batched)
    assert summary["acc"] == pytest.approx(float((predictions == targets).float().mean()))
    recall = [float(((predictions == c) & (targets == c)).sum() / (targets == c).sum()) for c in range(4)]
    assert summary["recall"] == pytest.approx(recall) and summary["bal_acc"] == pytest.approx(sum(recall) / 4)


def _rank_confusion(rank: int, init_file: str, predictions, targets, results) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        half = slice(rank * 50, (rank + 1) * 50)
        results[rank] = reduce_sum(confusion_matrix(predictions[half], targets[half], 3))
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow
@pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(), reason="torch without gloo"
)
def test_confusion_is_summed_over_ddp_ranks(tmp_path):
    import torch.multiprocessing as mp

    rng = torch.Generator().manual_seed(1)
    targets, predictions = torch.randint(3, (100,), generator=rng), torch.randint(3, (100,), generator=rng)
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(_rank_confusion, args=(str(tmp_path / "init"), predictions, targets, results), nprocs=2)
        reduced = [results[0], results[1]]
    expected = confusion_matrix(predictions, targets, 3)
    assert torch.equal(reduced[0], expected) and torch.equal(reduced[1], expected)


def test_imbalance_warning_names_classes_and_shares(caplog):
    with caplog.at_level(logging.WARNING, logger="lmac_brain.training.class_balance"):
        assert use_balanced_sampling(class_counts(["dog"] * 84 + ["rain"] * 10 + ["wind"] * 6), "auto")
    assert "'dog' 84.0%, 'rain' 10.0%, 'wind' 6.0%" in caplog.text and "class-balanced sampling" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lmac_brain.training.class_balance"):
        assert not use_balanced_sampling({"dog": 84, "rain": 16}, "off")
        assert "class_balance is off" in caplog.text
        caplog.clear()
        assert not use_balanced_sampling({"dog": 20, "rain": 10}, "auto") and not caplog.text  # exactly 2x: balanced
        assert use_balanced_sampling({"dog": 20, "rain": 10}, "on")


def _clip(label: str, rng: np.random.Generator, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    level = rng.uniform(0.2, 0.8)
    if label == "hiss":
        return level * rng.uniform(-1.0, 1.0, t.size)
    freq = rng.uniform(100.0, 300.0) if label == "hum" else rng.uniform(2000.0, 4000.0)
    return level * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))


@pytest.mark.slow
def test_default_finetuning_on_imbalanced_data_balances_and_reports(repo_root, tmp_path):
    from lmac_brain.interface.export import export_classifier
    from lmac_brain.models.classifier import AudioClassifier, Cnn14
    from lmac_brain.models.frontend import Frontend

    # 5 folds of 21 hum, 2 whistle, 2 hiss clips (hum: 84%); folds 1-3 train, 4 validates, 5 tests.
    rng = np.random.default_rng(0)
    (tmp_path / "audio").mkdir()
    rows = []
    for fold in range(1, 6):
        for label, n in (("hum", 21), ("whistle", 2), ("hiss", 2)):
            for i in range(n):
                name = f"audio/{label}_{fold}_{i}.flac"
                sf.write(str(tmp_path / name), _clip(label, rng), RATE)
                rows.append([name, label, fold])
    with open(tmp_path / "data.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["path", "label", "fold"], *rows])

    torch.manual_seed(0)
    labels = tmp_path / "label_encoder.txt"
    labels.write_text("'dog' => 0\n'rain' => 1\n================\n'starting_index' => 0\n", encoding="utf-8")
    source = export_classifier(
        str(tmp_path / "source"),
        Frontend(),
        AudioClassifier(Cnn14(80, 32, 0.0625, return_reps=True), torch.nn.Linear(32, 2)),
        str(labels),
        {},
    )
    out = tmp_path / "exp"
    cmd = [
        sys.executable,
        str(repo_root / "recipes/custom/interpret/train_classifier.py"),
        str(repo_root / "hparams/finetune_classifier_cpu.yaml"),
        "--dataset",
        str(tmp_path / "data.csv"),
        "--valid_folds",
        "[4]",
        "--test_folds",
        "[5]",
        "--pretrained_source",
        source,
        "--output_folder",
        str(out),
        "--batch_size",
        "8",
        "--train_crop_s",
        "0.5",
        "--lr",
        "0.01",
        "--warmup_steps",
        "2",
        "--number_of_epochs",
        "3",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Imbalanced classes in the training manifest" in proc.stderr + proc.stdout
    assert "'hum' 84.0%, 'hiss' 8.0%, 'whistle' 8.0%" in proc.stderr + proc.stdout

    export = out / "classifier"
    metrics = json.loads((export / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["class_balanced_sampling"] and metrics["train_class_counts"] == {"hiss": 6, "hum": 63, "whistle": 6}
    assert [sum(row) for row in metrics["test_confusion"]["matrix"]] == [2, 21, 2]  # classes hiss, hum, whistle
    assert metrics["test_bal_acc"] >= 0.8, f"balanced accuracy near chance (1/3): {metrics['test_per_class_recall']}"
    assert (export / "confusion_matrix.png").stat().st_size > 1000
    train_log = (out / "train_log.txt").read_text(encoding="utf-8")
    assert "valid bal_acc" in train_log and "test bal_acc" in train_log
