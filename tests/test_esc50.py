"""Tests of lmac_brain.data.esc50 on tiny generated ESC-50 folders (no real data needed)."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from lmac_brain.data.esc50 import download_esc50, prepare_esc50, read_esc50_meta
from lmac_brain.data.manifests import MANIFEST_COLUMNS


def read_manifest(path: str) -> list:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == ("ID", "duration", "wav", "label", "target", "fold")
        return list(reader)


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its size and mtime."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("tiny_esc50", ["wav", "flac"], indirect=True)
def test_manifests_default_folds(tiny_esc50, tiny_esc50_expected, tmp_path):
    paths = prepare_esc50(tiny_esc50, tmp_path / "save", download=False)
    assert set(paths) == {"train", "valid", "test"}
    assert MANIFEST_COLUMNS == ("ID", "duration", "wav", "label", "target", "fold")
    expected_folds = {"train": {1, 2, 3}, "valid": {4}, "test": {5}}
    seen = set()
    for split, path in paths.items():
        assert os.path.isabs(path) and Path(path).parent == tmp_path / "save"
        rows = read_manifest(path)
        assert len(rows) == 2 * len(expected_folds[split])
        for row in rows:
            want = tiny_esc50_expected[row["ID"]]
            assert int(row["fold"]) == want["fold"] and want["fold"] in expected_folds[split]
            assert int(row["target"]) == want["target"]
            assert row["label"] == want["label"]
            assert float(row["duration"]) == pytest.approx(want["duration"], abs=1e-4)
            assert os.path.isabs(row["wav"]) and os.path.isfile(row["wav"])
            assert Path(row["wav"]).stem == row["ID"]
            assert Path(row["wav"]).parent == tiny_esc50 / "audio"
            seen.add(row["ID"])
    assert seen == set(tiny_esc50_expected)


def test_custom_folds(tiny_esc50, tmp_path):
    paths = prepare_esc50(tiny_esc50, tmp_path, train_folds=[2, 5], valid_folds=[1], test_folds=[3, 4], download=False)
    folds = {s: {int(r["fold"]) for r in read_manifest(p)} for s, p in paths.items()}
    assert folds == {"train": {2, 5}, "valid": {1}, "test": {3, 4}}
    assert len(read_manifest(paths["train"])) == 4


@pytest.mark.parametrize(
    "folds, message",
    [
        (dict(train_folds=(0, 1)), r"\[0\] not valid.*1 to 5"),
        (dict(test_folds=(6,)), r"\[6\] not valid"),
        (dict(valid_folds=("4",)), r"not valid"),
        (dict(valid_folds=(2.0,)), r"not valid"),
        (dict(valid_folds=4), r"must be a list of fold numbers"),
        (
            dict(valid_folds=(3, 4)),
            r"train_folds \[1, 2, 3\] and valid_folds \[3, 4\] overlap in fold\(s\) \[3\]",
        ),
        (dict(train_folds=(1, 2), test_folds=(2, 5)), r"overlap in fold\(s\) \[2\]"),
        (dict(test_folds=()), r"test_folds is empty"),
    ],
)
def test_bad_folds(tiny_esc50, tmp_path, folds, message):
    with pytest.raises(ValueError, match=message):
        prepare_esc50(tiny_esc50, tmp_path / "save", download=False, **folds)
    assert not (tmp_path / "save").exists()


def test_folds_without_clips(tiny_esc50, tmp_path):
    meta = tiny_esc50 / "meta" / "esc50.csv"
    lines = meta.read_text().splitlines()
    meta.write_text("\n".join(line for line in lines if ",4," not in line) + "\n")
    with pytest.raises(ValueError, match=r"no clips in fold\(s\) \[4\] for the valid split"):
        prepare_esc50(tiny_esc50, tmp_path, download=False)


@pytest.mark.parametrize("inside", [".", "save", "audio/exp"])
def test_save_folder_inside_data_folder(tiny_esc50, inside):
    before = snapshot(tiny_esc50)
    with pytest.raises(ValueError, match="never into the data folder"):
        prepare_esc50(tiny_esc50, tiny_esc50 / inside, download=False)
    assert snapshot(tiny_esc50) == before


def test_save_folder_inside_data_folder_through_symlink(tiny_esc50, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tiny_esc50, target_is_directory=True)
    with pytest.raises(ValueError, match="never into the data folder"):
        prepare_esc50(tiny_esc50, link / "save", download=False)


def test_data_folder_unchanged(tiny_esc50, tmp_path):
    before = snapshot(tiny_esc50)
    prepare_esc50(tiny_esc50, tmp_path / "exp" / "save", download=False)
    assert snapshot(tiny_esc50) == before
    assert sorted(os.listdir(tmp_path / "exp" / "save")) == ["esc50_prepare.json", "test.csv", "train.csv", "valid.csv"]


@pytest.mark.parametrize("n_missing, tail", [(2, None), (7, "... and 2 more")])
def test_missing_audio(tiny_esc50, tmp_path, n_missing, tail):
    files = sorted((tiny_esc50 / "audio").iterdir())
    for f in files[:n_missing]:
        f.unlink()
    with pytest.raises(ValueError) as err:
        prepare_esc50(tiny_esc50, tmp_path, download=False)
    message = str(err.value)
    assert f"{n_missing} of the 10 audio files" in message
    assert str(files[0]) in message
    assert (tail in message) if tail else ("more" not in message)
    assert not (tmp_path / "train.csv").exists()


def test_missing_audio_outside_selected_folds_is_fine(tiny_esc50, tmp_path):
    for f in (tiny_esc50 / "audio").glob("5-*"):
        f.unlink()
    paths = prepare_esc50(tiny_esc50, tmp_path, test_folds=(4,), valid_folds=(3,), train_folds=(1, 2), download=False)
    assert len(read_manifest(paths["test"])) == 2


def test_missing_meta_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=False"):
        prepare_esc50(tmp_path / "nothing", tmp_path / "save", download=False)


def test_read_esc50_meta(tiny_esc50):
    rows = read_esc50_meta(tiny_esc50)
    assert len(rows) == 10
    assert rows[0]["filename"] == "1-100010-A-0.wav" and rows[0]["fold"] == 1 and rows[0]["target"] == 0
    assert set(rows[0]) == {"filename", "fold", "target", "category", "esc10", "src_file", "take"}


def test_read_esc50_meta_bad_header(tmp_path):
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text("name,fold\nx.wav,1\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['filename', 'target', 'category'\]"):
        read_esc50_meta(tmp_path)


def make_official_zip(tiny_folder: Path, where: Path) -> Path:
    """Zip ``tiny_folder`` with the official ``ESC-50-master/`` nesting and extra top-level files."""
    staging = where / "staging"
    shutil.copytree(tiny_folder, staging / "ESC-50-master")
    (staging / "ESC-50-master" / "README.md").write_text("ESC-50\n")
    return Path(shutil.make_archive(str(where / "master"), "zip", root_dir=staging))


def test_download_from_local_archive(tiny_esc50, tmp_path):
    archive = make_official_zip(tiny_esc50, tmp_path)
    data = tmp_path / "data"  # does not exist yet
    paths = prepare_esc50(data, tmp_path / "save", url=archive.as_uri())
    assert sorted(os.listdir(data)) == ["README.md", "audio", "meta"]  # flattened; zip and temp gone
    assert (data / "meta" / "esc50.csv").is_file() and len(os.listdir(data / "audio")) == 10
    assert archive.is_file()  # the source archive is left alone
    rows = read_manifest(paths["train"])
    assert len(rows) == 6 and all(Path(r["wav"]).parent == data / "audio" for r in rows)


def test_download_into_empty_existing_folder_with_plain_path(tiny_esc50, tmp_path):
    archive = make_official_zip(tiny_esc50, tmp_path)
    (tmp_path / "data").mkdir()
    assert download_esc50(tmp_path / "data", url=str(archive)) == str(tmp_path / "data")
    assert (tmp_path / "data" / "meta" / "esc50.csv").is_file()


def test_download_bad_archive(tmp_path):
    (tmp_path / "staging" / "something").mkdir(parents=True)
    archive = shutil.make_archive(str(tmp_path / "master"), "zip", root_dir=tmp_path / "staging")
    with pytest.raises(ValueError, match="holds no meta/esc50.csv"):
        download_esc50(tmp_path / "data", url=Path(archive).as_uri())
    assert os.listdir(tmp_path / "data") == []
    with pytest.raises(FileNotFoundError, match="archive not found"):
        download_esc50(tmp_path / "data", url="file:///no/such/master.zip")


def test_rerun_skips_and_changed_options_rewrite(tiny_esc50, tmp_path):
    paths = prepare_esc50(tiny_esc50, tmp_path, download=False)
    stats = {s: os.stat(p) for s, p in paths.items()}
    assert prepare_esc50(tiny_esc50, tmp_path, download=False) == paths
    for split, path in paths.items():
        again = os.stat(path)
        assert (again.st_ino, again.st_mtime_ns) == (stats[split].st_ino, stats[split].st_mtime_ns)

    paths = prepare_esc50(tiny_esc50, tmp_path, train_folds=(1, 2), valid_folds=(3,), download=False)
    assert os.stat(paths["train"]).st_ino != stats["train"].st_ino
    assert len(read_manifest(paths["train"])) == 4
    assert {int(r["fold"]) for r in read_manifest(paths["valid"])} == {3}

    # A manifest removed by hand is rewritten, too.
    os.remove(paths["test"])
    prepare_esc50(tiny_esc50, tmp_path, train_folds=(1, 2), valid_folds=(3,), download=False)
    assert len(read_manifest(paths["test"])) == 2
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
