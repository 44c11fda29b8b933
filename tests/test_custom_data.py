"""Custom-dataset path: preparation from a CSV or a folder per class, then fine-tune -> L-MAC -> explain.

The unit tests check the split rules and the errors of :mod:`lmac_brain.data.custom_data`; the end-to-end
test runs the two recipes of ``recipes/custom/interpret/`` as a user would (subprocesses), on 3 classes
x 6 generated clips, starting from a tiny exported classifier of other classes, so each run takes
seconds.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from limits import HANG_S

from lmac_brain.data.custom_data import OPTIONS_FILE, prepare_custom_dataset
from lmac_brain.data.labelled_files import count_classes, read_labelled_csv, scan_class_folders

RATE = 16000
CLASSES = ("hum", "whistle", "hiss")


def _clip(label: str, index: int) -> np.ndarray:
    """0.5-0.75 s of a low tone, a high tone or white noise (distinct classes, varied clips)."""
    n = int(RATE * (0.5 + 0.05 * index))
    t = np.arange(n) / RATE
    if label == "hiss":
        return 0.3 * np.random.default_rng(index).standard_normal(n)
    base = 150.0 if label == "hum" else 2500.0
    return 0.5 * np.sin(2 * np.pi * base * (1 + 0.03 * index) * t)


def write_class_folders(root: Path, n_per_class: int = 6, classes=CLASSES, ext: str = ".wav") -> Path:
    """``root/<class>/<class>_<i><ext>`` for each class."""
    for label in classes:
        (root / label).mkdir(parents=True)
        for i in range(n_per_class):
            sf.write(str(root / label / f"{label}_{i}{ext}"), _clip(label, i), RATE)
    return root


def _manifest(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _splits(paths):
    return {split: _manifest(path) for split, path in paths.items()}


# --------------------------------------------------------------------------- folder per class


def test_folder_split_is_stratified_deterministic_and_in_esc50_format(tmp_path):
    root = write_class_folders(tmp_path / "data", n_per_class=10)
    (root / "hum" / "notes.txt").write_text("not audio", encoding="utf-8")  # skipped
    paths = prepare_custom_dataset(root, tmp_path / "exp1", seed=7)
    rows = _splits(paths)
    assert list(rows["train"][0]) == ["ID", "duration", "wav", "label", "target", "fold"]
    for split, expected in (("train", 8), ("valid", 1), ("test", 1)):
        counts = {c: sum(r["label"] == c for r in rows[split]) for c in CLASSES}
        assert counts == {c: expected for c in CLASSES}, (split, counts)
    ids = [r["ID"] for split in rows.values() for r in split]
    assert len(ids) == len(set(ids)) == 30
    targets = {r["label"]: r["target"] for split in rows.values() for r in split}
    assert targets == {"hiss": "0", "hum": "1", "whistle": "2"}
    first = rows["test"][0]
    assert os.path.isabs(first["wav"]) and first["fold"] == ""
    assert abs(float(first["duration"]) - sf.info(first["wav"]).duration) < 1e-9
    assert first["ID"] == f"{first['label']}__{Path(first['wav']).stem}"

    # Same seed, other experiment folder and other data location: the same split.
    copy = write_class_folders(tmp_path / "copy", n_per_class=10)
    again = _splits(prepare_custom_dataset(copy, tmp_path / "exp2", seed=7))
    assert {s: [r["ID"] for r in v] for s, v in again.items()} == {s: [r["ID"] for r in v] for s, v in rows.items()}
    # Another seed: another split, still stratified.
    other = _splits(prepare_custom_dataset(root, tmp_path / "exp3", seed=8))
    assert [r["ID"] for r in other["test"]] != [r["ID"] for r in rows["test"]]
    assert sorted(r["label"] for r in other["test"]) == sorted(CLASSES)


def test_preparation_is_skipped_when_unchanged_and_redone_when_data_or_options_change(tmp_path):
    root = write_class_folders(tmp_path / "data", n_per_class=4)
    save = tmp_path / "exp"
    paths = prepare_custom_dataset(root, save)
    stamp = os.stat(paths["train"]).st_mtime_ns
    assert json.loads((save / OPTIONS_FILE).read_text(encoding="utf-8"))["split_ratios"] == [0.8, 0.1, 0.1]
    prepare_custom_dataset(root, save)
    assert os.stat(paths["train"]).st_mtime_ns == stamp, "unchanged data and options must not be re-prepared"

    sf.write(str(root / "hum" / "extra.wav"), _clip("hum", 9), RATE)
    prepare_custom_dataset(root, save)
    assert "hum__extra" in {r["ID"] for rows in _splits(paths).values() for r in rows}
    prepare_custom_dataset(root, save, split_ratios=[0.5, 0.25, 0.25])
    assert sum(len(v) for v in _splits(paths).values()) == 13


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        prepare_custom_dataset(tmp_path / "nowhere", tmp_path / "exp")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class folders"):
        scan_class_folders(tmp_path / "empty")

    root = write_class_folders(tmp_path / "data", n_per_class=3)
    (root / "silence").mkdir()
    with pytest.raises(ValueError, match=r"silence: the class folder holds no audio file"):
        scan_class_folders(root)
    (root / "silence").rmdir()

    sf.write(str(root / "loose.wav"), _clip("hum", 0), RATE)
    with pytest.raises(ValueError, match="lie directly in the data folder"):
        scan_class_folders(root)
    os.remove(root / "loose.wav")

    with pytest.raises(ValueError, match="inside the data folder"):
        prepare_custom_dataset(root, root / "exp")

    os.remove(root / "hiss" / "hiss_2.wav")
    with pytest.raises(ValueError, match=r"Class 'hiss' has 2 file\(s\), too few"):
        prepare_custom_dataset(root, tmp_path / "exp")
    with pytest.raises(ValueError, match="split_ratios"):
        prepare_custom_dataset(root, tmp_path / "exp", split_ratios=[0.9, 0.1, 0.0])
    with pytest.raises(ValueError, match="has no folds"):
        prepare_custom_dataset(root, tmp_path / "exp", valid_folds=[1], test_folds=[2])

    single = write_class_folders(tmp_path / "one", classes=("hum",))
    with pytest.raises(ValueError, match="only one class"):
        count_classes(single)

    sf.write(str(root / "hiss" / "hiss_2.wav"), _clip("hiss", 2), RATE)
    (root / "hum" / "broken.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match="broken.wav: not a readable audio file"):
        prepare_custom_dataset(root, tmp_path / "exp")


# --------------------------------------------------------------------------- CSV


def _write_csv(path: Path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_csv_with_folds_relative_and_absolute_paths(tmp_path):
    audio = write_class_folders(tmp_path / "data" / "audio", n_per_class=3, classes=("hum", "hiss"))
    elsewhere = write_class_folders(tmp_path / "elsewhere", n_per_class=1, classes=("whistle",))
    rows = [[f"audio/{c}/{c}_{i}.wav", c, i + 1] for c in ("hum", "hiss") for i in range(3)]
    rows.append([str(elsewhere / "whistle" / "whistle_0.wav"), "whistle", 1])  # absolute path
    table = _write_csv(tmp_path / "data" / "labels.csv", ["path", "label", "fold"], rows)
    files = read_labelled_csv(table)
    assert [f.fold for f in files[:3]] == ["1", "2", "3"] and files[0].wav == str(audio / "hum" / "hum_0.wav")

    split = _splits(prepare_custom_dataset(table, tmp_path / "exp", valid_folds=2, test_folds=[3]))
    assert sorted(r["ID"] for r in split["valid"]) == ["audio__hiss__hiss_1", "audio__hum__hum_1"]
    assert {r["fold"] for r in split["test"]} == {"3"}
    assert sorted(r["label"] for r in split["train"]) == ["hiss", "hum", "whistle"]
    assert count_classes(table) == 3

    with pytest.raises(ValueError, match="fold column: choose the validation and test folds"):
        prepare_custom_dataset(table, tmp_path / "exp2")
    with pytest.raises(ValueError, match=r"Fold\(s\) \['7'\] are not in"):
        prepare_custom_dataset(table, tmp_path / "exp2", valid_folds=[7], test_folds=[3])
    with pytest.raises(ValueError, match="overlap"):
        prepare_custom_dataset(table, tmp_path / "exp2", valid_folds=[2, 3], test_folds=[3])
    with pytest.raises(ValueError, match="leave at least one fold for training"):
        prepare_custom_dataset(table, tmp_path / "exp2", valid_folds=[1, 2], test_folds=[3])
    with pytest.raises(ValueError, match=r"\['whistle'\] have no file in the training folds"):
        prepare_custom_dataset(table, tmp_path / "exp2", valid_folds=[1], test_folds=[3])


def test_csv_without_folds_gets_the_seeded_split(tmp_path):
    write_class_folders(tmp_path / "wavs", n_per_class=5)
    rows = [[f"wavs/{c}/{c}_{i}.wav", c] for c in CLASSES for i in range(5)]
    table = _write_csv(tmp_path / "list.csv", ["path", "label"], rows)
    split = _splits(prepare_custom_dataset(table, tmp_path / "exp"))
    assert [len(split[s]) for s in ("train", "valid", "test")] == [9, 3, 3]
    assert sorted(r["label"] for r in split["valid"]) == sorted(CLASSES)


def test_csv_errors_are_clear(tmp_path):
    write_class_folders(tmp_path / "wavs", n_per_class=3, classes=("hum", "hiss"))
    good = [["wavs/hum/hum_0.wav", "hum"], ["wavs/hiss/hiss_0.wav", "hiss"]]
    bad_header = _write_csv(tmp_path / "a.csv", ["path", "label", "speaker"], [r + ["x"] for r in good])
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['speaker'\]"):
        read_labelled_csv(bad_header)
    no_label = _write_csv(tmp_path / "b.csv", ["path"], [[r[0]] for r in good])
    with pytest.raises(ValueError, match="missing or repeated column"):
        read_labelled_csv(no_label)
    missing = _write_csv(tmp_path / "c.csv", ["path", "label"], good + [["wavs/hum/gone.wav", "hum"]])
    with pytest.raises(ValueError, match=r"1 of the 3 audio files named in .*c.csv are missing:\n  .*gone.wav"):
        read_labelled_csv(missing)
    empty_cell = _write_csv(tmp_path / "d.csv", ["path", "label"], good + [["wavs/hum/hum_1.wav", ""]])
    with pytest.raises(ValueError, match="d.csv, line 4: expected 2 non-empty cells"):
        read_labelled_csv(empty_cell)
    twice = _write_csv(tmp_path / "e.csv", ["path", "label"], good + [good[0]])
    with pytest.raises(ValueError, match="listed more than once"):
        read_labelled_csv(twice)
    empty = _write_csv(tmp_path / "f.csv", ["path", "label"], [])
    with pytest.raises(ValueError, match="no rows"):
        read_labelled_csv(empty)
    with pytest.raises(ValueError, match="expected a CSV file"):
        count_classes(tmp_path / "wavs" / "hum" / "hum_0.wav")


# --------------------------------------------------------------------------- recipes end to end

TINY = ["--batch_size", "4", "--train_crop_s", "0.5"]


def _run(repo_root, cwd, script, config, args):
    cmd = [
        sys.executable,
        str(repo_root / "recipes/custom/interpret" / script),
        str(repo_root / "hparams" / config),
        *TINY,
        *args,
    ]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=HANG_S)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture
def source_classifier(tmp_path):
    """A tiny exported classifier of two *other* classes (stands in for the shipped ESC-50 model)."""
    from lmac_brain.interface.export import export_classifier
    from lmac_brain.models.classifier import AudioClassifier, Cnn14
    from lmac_brain.models.frontend import Frontend

    torch.manual_seed(0)
    clf = AudioClassifier(Cnn14(80, 32, 0.0625, return_reps=True), torch.nn.Linear(32, 2))
    labels = tmp_path / "label_encoder.txt"
    labels.write_text("'dog' => 0\n'rain' => 1\n================\n'starting_index' => 0\n", encoding="utf-8")
    return export_classifier(str(tmp_path / "source_classifier"), Frontend(), clf, str(labels), {})


@pytest.mark.slow
def test_finetune_then_lmac_then_explain(tmp_path, repo_root, source_classifier):
    data = write_class_folders(tmp_path / "my_sounds")
    before = sorted(str(p) for p in data.rglob("*"))
    clf_out = tmp_path / "clf"
    log = _ok(
        _run(
            repo_root,
            tmp_path,
            "train_classifier.py",
            "finetune_classifier_cpu.yaml",
            [
                "--dataset",
                str(data),
                "--pretrained_source",
                source_classifier,
                "--output_folder",
                str(clf_out),
                "--number_of_epochs",
                "1",
                "--warmup_steps",
                "1",
            ],
        )
    )
    assert "test acc" in log
    export = clf_out / "classifier"
    metrics = json.loads((export / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["classes"] == ["hiss", "hum", "whistle"] and metrics["clips"] == {"train": 12, "valid": 3, "test": 3}
    assert torch.load(export / "classifier.ckpt")["weight"].shape == (3, 32)  # new head sized from the data
    collected = sorted(os.listdir(clf_out / "save" / "pretrained"))
    assert collected == ["embedding_model.ckpt"], "only the embedding model may come from the source classifier"

    # L-MAC on the source classifier (other classes) stops with a clear error before loading it.
    lmac_out = tmp_path / "lmac"
    common = [
        "--dataset",
        str(data),
        "--output_folder",
        str(lmac_out),
        "--number_of_epochs",
        "1",
        "--n_listen_valid",
        "1",
        "--n_listen_test",
        "1",
    ]
    proc = _run(
        repo_root,
        tmp_path,
        "train_lmac.py",
        "lmac_custom_cpu.yaml",
        common + ["--classifier_source", source_classifier],
    )
    assert proc.returncode != 0 and "knows the classes ['dog', 'rain'] but the data have" in proc.stdout + proc.stderr

    log = _ok(
        _run(
            repo_root, tmp_path, "train_lmac.py", "lmac_custom_cpu.yaml", common + ["--classifier_source", str(export)]
        )
    )
    assert "valid Fid-In" in log and "test AI" in log
    results = json.loads((lmac_out / "results.json").read_text(encoding="utf-8"))
    assert results["condition"] == (
        "clean clips (0/0/0/0/0.3/0.3 (by schedule phase) of training clips mixed over another training clip at "
        "[6.0, 18.0] dB instead)"
    )  # the method's schedule: no event mixing before the decoder's parts join
    assert results["split"].startswith("seeded stratified split")
    assert sorted(before) == sorted(str(p) for p in data.rglob("*")), "the recipes wrote into the data folder"

    from lmac_brain.interface.interpreter import LMACInterpreter

    interp = LMACInterpreter.from_hparams(source=str(lmac_out / "interpreter"), savedir=str(tmp_path / "cache"))
    clip = data / "whistle" / "whistle_0.wav"
    out = interp.interpret_file(str(clip))
    assert out.labels[0] in CLASSES and out.probs.shape == (1, 3)
    assert out.interpretation.shape[-1] == sf.info(str(clip)).frames

    # The FT stage continues that decoder (the method's kind) on the same data.
    ft_out = tmp_path / "ft"
    ft = [a if a != str(lmac_out) else str(ft_out) for a in common]
    ft += ["--classifier_source", str(export), "--decoder_init", str(lmac_out / "decoder.ckpt")]
    log = _ok(_run(repo_root, tmp_path, "train_lmac.py", "lmac_ft_custom_cpu.yaml", ft))
    assert "train ft_gate" in log
    ft_results = json.loads((ft_out / "results.json").read_text(encoding="utf-8"))
    assert ft_results["stage"] == "ft" and ft_results["split"] == results["split"]
    start, tuned = (torch.load(o / "decoder.ckpt", weights_only=True) for o in (lmac_out, ft_out))
    assert start.keys() == tuned.keys() and any(not torch.equal(start[k], tuned[k]) for k in start)
    assert sorted(before) == sorted(str(p) for p in data.rglob("*")), "the FT stage wrote into the data folder"
