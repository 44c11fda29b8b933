"""Evaluating an interpreter trained on your own data, and the ESC-50 subset that makes such data.

- ``recipes/custom/interpret/esc50_subset.py`` on a generated ESC-50 folder: one folder per chosen
  category, one link per clip, never into a folder of someone else's files;
- :class:`lmac_brain.evaluation.evalsets.ManifestSet` gives the clips the training recipe tests on (clean or
  with its deterministic noise), and :func:`lmac_brain.recipe.interpreter_eval.load_interpreter` refuses an
  interpreter of another split;
- end to end (slow): the custom fine-tune and L-MAC recipes train tiny models on 3 classes x 6 clips, then
  ``recipes/custom/interpret/eval.py`` evaluates the interpreter on exactly the test split's clips.
"""

import csv
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from limits import HANG_S
from test_custom_data import CLASSES, write_class_folders

from lmac_brain.data.custom_data import prepare_custom_dataset, split_description
from lmac_brain.data.dataio import classification_datasets, label_encoder_from_manifest
from lmac_brain.data.labelled_files import scan_class_folders
from lmac_brain.data.noise import NoiseMixer
from lmac_brain.evaluation.evalsets import ManifestSet

REPO = Path(__file__).resolve().parents[1]
META_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")


def _subset_main():
    """``main(argv)`` of the subset script, loaded from its file (run in-process: it only links files)."""
    spec = importlib.util.spec_from_file_location("esc50_subset", REPO / "recipes/custom/interpret/esc50_subset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _meta(folder: Path) -> list:
    with open(folder / "meta" / "esc50.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _tree(folder: Path) -> list:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# --------------------------------------------------------------------------- the ESC-50 subset


def test_subset_links_every_clip_of_the_chosen_classes(tiny_esc50, tmp_path, capsys):
    esc = tiny_esc50  # dog and chirping_birds, 5 clips each (conftest.write_tiny_esc50)
    before = _tree(esc)
    out = tmp_path / "folders"
    assert _subset_main()([str(esc), str(out), "--n_classes", "2"]) == 0
    printed = capsys.readouterr().out
    assert "10 clips of 2 classes" in printed and f"{out}/dog: 5 links" in printed

    assert sorted(e for e in os.listdir(out) if not e.startswith(".")) == ["chirping_birds", "dog"]
    for row in _meta(esc):
        link = out / row["category"] / row["filename"]
        assert link.is_symlink(), link
        assert os.path.samefile(link, esc / "audio" / row["filename"])
    assert sum(len(os.listdir(out / c)) for c in ("dog", "chirping_birds")) == len(_meta(esc))
    # a folder the custom recipes read: one class per folder, the record hidden
    files = scan_class_folders(out)
    assert sorted({f.label for f in files}) == ["chirping_birds", "dog"] and len(files) == 10
    assert _tree(esc) == before, "the ESC-50 folder was changed"

    # its own folder is replaced on a second run (other classes); --copy writes files
    assert _subset_main()([str(esc), str(out), "--classes", "dog", "--copy"]) == 0
    assert sorted(e for e in os.listdir(out) if not e.startswith(".")) == ["dog"]
    copied = sorted((out / "dog").iterdir())
    assert len(copied) == 5 and not any(p.is_symlink() for p in copied)
    assert copied[0].read_bytes() == (esc / "audio" / copied[0].name).read_bytes()


def test_subset_takes_the_first_ten_categories_in_sorted_order(tmp_path):
    esc = tmp_path / "esc50"
    (esc / "meta").mkdir(parents=True)
    (esc / "audio").mkdir()
    categories = [f"class_{chr(ord('l') - i)}" for i in range(12)]  # class_l ... class_a, unsorted
    rows = []
    for target, category in enumerate(categories):
        for fold in (1, 2, 3):
            name = f"{fold}-{1000 + target}-A-{target}.wav"
            (esc / "audio" / name).write_bytes(b"RIFF")
            rows.append([name, fold, target, category, "False", str(1000 + target), "A"])
    with open(esc / "meta" / "esc50.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([META_COLUMNS, *rows])
    out = tmp_path / "esc10"
    assert _subset_main()([str(esc), str(out)]) == 0
    assert sorted(e for e in os.listdir(out) if not e.startswith(".")) == sorted(categories)[:10]
    assert all(len(os.listdir(out / c)) == 3 for c in sorted(categories)[:10])


def test_subset_refuses_a_folder_of_other_files(tiny_esc50, tmp_path, capsys):
    esc = tiny_esc50
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep me", encoding="utf-8")
    assert _subset_main()([str(esc), str(theirs), "--n_classes", "2"]) == 1
    assert "is not empty and was not written by this script" in capsys.readouterr().err
    assert _tree(theirs) == ["notes.txt"] and (theirs / "notes.txt").read_text(encoding="utf-8") == "keep me"

    # a folder it wrote, to which someone added a file, is not its own any more
    ours = tmp_path / "ours"
    assert _subset_main()([str(esc), str(ours), "--n_classes", "2"]) == 0
    (ours / "dog" / "extra.wav").write_bytes(b"RIFF")
    assert _subset_main()([str(esc), str(ours), "--classes", "dog"]) == 1
    assert (ours / "chirping_birds").is_dir() and (ours / "dog" / "extra.wav").is_file()

    assert _subset_main()([str(esc), str(tmp_path / "new"), "--classes", "dgo"]) == 1
    assert "Unknown ESC-50 categories ['dgo']" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------- the evaluation set


@pytest.mark.parametrize("with_noise", [False, True])
def test_manifest_set_gives_the_recipe_test_clips(tmp_path, noise_folder, with_noise):
    data = write_class_folders(tmp_path / "my_sounds")
    manifests = prepare_custom_dataset(data, tmp_path / "save")
    noise = noise_folder if with_noise else None
    dataset = ManifestSet(manifests["test"], 16000, noise, 0.0, seed=1234)
    # the L-MAC recipe's test pipeline (lmac_brain.recipe.runs.train_lmac) on the same manifest
    encoder = label_encoder_from_manifest(manifests["train"], str(tmp_path / "labels.txt"))
    mixer = NoiseMixer(noise, 16000, 0.0, seed=1234, deterministic=True) if with_noise else None
    recipe = classification_datasets(manifests, encoder, 16000, eval_noise=mixer, with_clean=True)["test"]
    assert len(dataset) == len(recipe) == len(CLASSES)
    for i in range(len(dataset)):
        item_id, wav, clean = dataset[i]
        assert item_id == recipe[i]["id"]
        assert torch.equal(wav, recipe[i]["sig"]) and torch.equal(clean, recipe[i]["clean"])
        assert torch.equal(wav, clean) != with_noise
    assert dataset.condition == ("noise at 0.0 dB from " + str(noise) if with_noise else "clean clips")


def test_interpreter_of_another_split_is_refused(tmp_path):
    from lmac_brain.explain.lmac import LMAC
    from lmac_brain.interface.export import export_interpreter
    from lmac_brain.models.classifier import AudioClassifier, Cnn14
    from lmac_brain.models.decoder import LMACDecoder, rep_channels
    from lmac_brain.models.frontend import Frontend
    from lmac_brain.recipe.interpreter_eval import load_interpreter

    data = write_class_folders(tmp_path / "my_sounds")
    manifests = prepare_custom_dataset(data, tmp_path / "save")
    labels = tmp_path / "label_encoder.txt"
    labels.write_text(
        "".join(f"'{c}' => {i}\n" for i, c in enumerate(sorted(CLASSES))) + "================\n'starting_index' => 0\n",
        encoding="utf-8",
    )
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    lmac = LMAC(Frontend(), AudioClassifier(emb, torch.nn.Linear(16, 3)), LMACDecoder(rep_channels(emb), hidden=4))
    trained = split_description(None, None, [0.8, 0.1, 0.1], 1234)
    folder = export_interpreter(
        str(tmp_path / "interp"), lmac, str(labels), {"split": trained, "dataset": str(data)}, "# card"
    )
    loaded, recorded = load_interpreter(folder, manifests, trained, str(data))
    assert recorded["split"] == trained and not loaded.training
    with pytest.raises(ValueError, match="was trained on the split"):
        load_interpreter(folder, manifests, split_description(None, None, [0.8, 0.1, 0.1], 7), str(data))


# --------------------------------------------------------------------------- end to end


def _run(script: str, config: str, args: list, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO / "recipes/custom/interpret" / script), str(REPO / "hparams" / config), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=HANG_S)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _ids(manifest: Path) -> list:
    with open(manifest, newline="", encoding="utf-8") as f:
        return sorted(r["ID"] for r in csv.DictReader(f))


@pytest.fixture
def source_classifier(tmp_path):
    """A tiny exported classifier of two other classes (stands in for the shipped ESC-50 model)."""
    from lmac_brain.interface.export import export_classifier
    from lmac_brain.models.classifier import AudioClassifier, Cnn14
    from lmac_brain.models.frontend import Frontend

    torch.manual_seed(0)
    clf = AudioClassifier(Cnn14(80, 32, 0.0625, return_reps=True), torch.nn.Linear(32, 2))
    labels = tmp_path / "label_encoder.txt"
    labels.write_text("'dog' => 0\n'rain' => 1\n================\n'starting_index' => 0\n", encoding="utf-8")
    return export_classifier(str(tmp_path / "source_classifier"), Frontend(), clf, str(labels), {})


@pytest.mark.slow
def test_eval_on_the_test_split_of_a_trained_custom_interpreter(tmp_path, source_classifier):
    data = write_class_folders(tmp_path / "my_sounds")
    tiny = ["--dataset", str(data), "--batch_size", "4", "--train_crop_s", "0.5", "--number_of_epochs", "1"]
    clf_out, lmac_out, eval_out = tmp_path / "clf", tmp_path / "lmac", tmp_path / "eval"
    _ok(
        _run(
            "train_classifier.py",
            "finetune_classifier_cpu.yaml",
            tiny + ["--pretrained_source", source_classifier, "--output_folder", str(clf_out), "--warmup_steps", "1"],
            tmp_path,
        )
    )
    _ok(
        _run(
            "train_lmac.py",
            "lmac_custom_cpu.yaml",
            tiny
            + ["--classifier_source", str(clf_out / "classifier"), "--output_folder", str(lmac_out)]
            + ["--n_listen_valid", "1", "--n_listen_test", "1"],
            tmp_path,
        )
    )
    interpreter = lmac_out / "interpreter"
    common = ["--dataset", str(data), "--interpreter_source", str(interpreter), "--batch_size", "2"]
    log = _ok(_run("eval.py", "eval_custom_cpu.yaml", common + ["--output_folder", str(eval_out)], tmp_path))

    test_ids = _ids(lmac_out / "save" / "test.csv")
    assert test_ids == _ids(clf_out / "save" / "test.csv") == _ids(eval_out / "save" / "test.csv")
    assert len(test_ids) == len(CLASSES)  # one clip per class of 6
    with open(eval_out / "results.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, list(reader)
    for column in ("Ins AUC", "Del AUC", "Ins AUC (energy)", "Listen@0.1", "Listen@0.2"):
        assert column in columns
    assert {r["method"] for r in rows} == {"L-MAC", "Energy", "Random"} and {r["set"] for r in rows} == {"test"}
    for method in ("L-MAC", "Energy", "Random"):
        for column in ("Ins AUC", "Del AUC", "Listen@0.1"):
            scored = [r for r in rows if r["method"] == method and r[column] != ""]
            assert sorted(r["item"] for r in scored) == test_ids, (method, column)
            assert all(0.0 <= float(r[column]) <= 1.0 for r in scored)
    summary = json.loads((eval_out / "summary.json").read_text(encoding="utf-8"))
    assert summary["test"]["L-MAC"]["Ins AUC"]["n"] == len(test_ids)
    markdown = (eval_out / "summary.md").read_text(encoding="utf-8")
    assert f"### test ({len(test_ids)} items)" in markdown and "clean clips" in markdown and "partial" not in markdown
    assert "| L-MAC |" in log and (eval_out / "budget_curves_test.png").stat().st_size > 0

    # another split than the training's: refused before anything is explained
    proc = _run(
        "eval.py",
        "eval_custom_cpu.yaml",
        common + ["--output_folder", str(tmp_path / "eval_other"), "--split_seed", "7"],
        tmp_path,
    )
    assert proc.returncode != 0 and "was trained on the split" in proc.stdout + proc.stderr
    assert not (tmp_path / "eval_other" / "results.csv").exists()
