"""Shared pytest fixtures: tiny generated ESC-50 folders and noise folders, and one toy classifier run.

Nothing here reads the real data; every fixture writes its own few short files. ``toy_classifier_run``
trains the classifier recipe once per session on separable toy classes, for the tests that check that
training learns and for the L-MAC tests that explain a classifier that has learned.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf
from limits import HANG_S

# (target, category) of the two tiny classes; targets are not 0..1 on purpose, so that a test can
# tell the csv's class index from a re-enumeration.
TINY_CLASSES = ((0, "dog"), (14, "chirping_birds"))
TINY_FOLDS = (1, 2, 3, 4, 5)
ESC50_META_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")

#: Audio format of each layout: (sample rate, file extension).
LAYOUTS = {"wav": (44100, ".wav"), "flac": (16000, ".flac")}


def tiny_clip_duration(fold: int, class_index: int) -> float:
    """Duration in seconds of the tiny clip of ``fold`` and class ``class_index`` (0.3 to 0.54 s)."""
    return 0.3 + 0.04 * fold + 0.02 * class_index


def tiny_esc50_rows() -> list:
    """The clips of the tiny dataset: dicts with ID, fold, target, label, duration (s), class_index."""
    rows = []
    for fold in TINY_FOLDS:
        for class_index, (target, category) in enumerate(TINY_CLASSES):
            rows.append(
                {
                    "ID": f"{fold}-{100000 + 10 * fold + class_index}-A-{target}",
                    "fold": fold,
                    "target": target,
                    "label": category,
                    "duration": tiny_clip_duration(fold, class_index),
                    "class_index": class_index,
                }
            )
    return rows


def write_tiny_esc50(folder: Path, layout: str = "wav") -> Path:
    """Write a 10-clip ESC-50-shaped dataset (5 folds x 2 classes x 1 clip) into ``folder``.

    ``layout="wav"`` writes 44.1 kHz 16-bit wav files like the official release; ``"flac"``
    writes 16 kHz flac files like the resampled copy in shared/data. File names follow the
    official pattern ``{fold}-{src_file}-{take}-{target}.ext``.
    """
    rate, ext = LAYOUTS[layout]
    audio = folder / "audio"
    (folder / "meta").mkdir(parents=True)
    audio.mkdir()
    rows = []
    for clip in tiny_esc50_rows():
        name = clip["ID"] + ext
        t = np.arange(round(clip["duration"] * rate)) / rate
        tone = 0.5 * np.sin(2 * np.pi * (220.0 * (clip["class_index"] + 1) + 10 * clip["fold"]) * t)
        sf.write(str(audio / name), tone, rate, subtype="PCM_16")
        src_file = clip["ID"].split("-")[1]
        esc10 = str(clip["target"] == 0)
        rows.append([name, clip["fold"], clip["target"], clip["label"], esc10, src_file, "A"])
    with open(folder / "meta" / "esc50.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(ESC50_META_COLUMNS)
        writer.writerows(rows)
    return folder


@pytest.fixture
def make_tiny_esc50(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``make_tiny_esc50(layout="wav")`` writes a fresh tiny ESC-50 folder, returns its path."""

    def make(layout: str = "wav") -> Path:
        return write_tiny_esc50(tmp_path_factory.mktemp(f"esc50_{layout}"), layout)

    return make


@pytest.fixture
def tiny_esc50(request: pytest.FixtureRequest, make_tiny_esc50: Callable[..., Path]) -> Path:
    """A fresh tiny ESC-50 folder; official 44.1 kHz wav layout unless parametrised indirectly
    with ``"flac"`` (16 kHz flac), e.g. ``@pytest.mark.parametrize("tiny_esc50", ["wav", "flac"],
    indirect=True)``."""
    return make_tiny_esc50(getattr(request, "param", "wav"))


@pytest.fixture
def tiny_esc50_expected() -> dict:
    """What a manifest row of each tiny clip must hold: ``{ID: {fold, target, label, duration}}``."""
    return {r["ID"]: {k: r[k] for k in ("fold", "target", "label", "duration")} for r in tiny_esc50_rows()}


@pytest.fixture
def noise_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with 2 short noise files: 0.25 s white noise at 16 kHz (wav) and 1 s of
    low-passed noise at 22.05 kHz (flac, in a sub-folder, so resampling and recursion are used)."""
    return write_noise_folder(tmp_path_factory.mktemp("noise"))


def write_noise_folder(folder: Path) -> Path:
    """Write the two noise files of the ``noise_folder`` fixture into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sf.write(str(folder / "white.wav"), 0.2 * rng.standard_normal(4000), 16000)
    (folder / "sub").mkdir()
    brown = np.cumsum(rng.standard_normal(22050))
    brown = 0.5 * (brown - brown.mean()) / np.abs(brown - brown.mean()).max()
    sf.write(str(folder / "sub" / "brown.flac"), brown, 22050)
    return folder


@pytest.fixture
def repo_root() -> Path:
    """Root of the repository (the folder holding lmac_brain/)."""
    return Path(__file__).resolve().parents[1]


@pytest.fixture
def real_data(repo_root: Path) -> Callable[..., Path]:
    """``real_data("esc50-16k", "meta", "esc50.csv")``: that path of ``../shared/data`` (the real data beside the
    checkout, on developer machines and CI). Absent, the test is skipped with the reason, or fails where
    ``LMAC_REQUIRE_DATA=1`` (``.ci/run`` sets it: the real-data tests never skip silently there)."""

    def need(*parts: str) -> Path:
        path = repo_root.parent.joinpath("shared", "data", *parts)
        if not path.exists():
            reason = f"real data not found at {path} (only on machines with ../shared/data)"
            if os.environ.get("LMAC_REQUIRE_DATA") == "1":
                pytest.fail(f"LMAC_REQUIRE_DATA=1 but {reason}")
            pytest.skip(reason)
        return path

    return need


def write_separable_esc50(folder: Path, clips_per_class: int = 8, duration: float = 0.5) -> Path:
    """An ESC-50-shaped folder (16 kHz flac) whose two classes are easy to tell apart, for learning tests.

    ``clips_per_class`` clips of each class in each of the 5 folds: class ``dog`` (target 0) holds pure
    tones (300-3000 Hz, random phase and level), class ``chirping_birds`` (target 14) bursts of white
    noise (random onset, length and level). Every clip is ``duration`` seconds; the files are seeded.
    """
    rate = 16000
    audio = folder / "audio"
    (folder / "meta").mkdir(parents=True)
    audio.mkdir()
    rng = np.random.default_rng(0)
    n = int(round(duration * rate))
    t = np.arange(n) / rate
    rows = []
    for fold in TINY_FOLDS:
        for class_index, (target, category) in enumerate(TINY_CLASSES):
            for k in range(clips_per_class):
                src = 100000 + 1000 * fold + 100 * class_index + k
                name = f"{fold}-{src}-A-{target}.flac"
                level = rng.uniform(0.1, 0.8)
                if class_index == 0:
                    clip = level * np.sin(2 * np.pi * rng.uniform(300.0, 3000.0) * t + rng.uniform(0, 2 * np.pi))
                else:
                    clip = np.zeros(n)
                    start, length = rng.integers(0, n // 2), rng.integers(n // 4, n // 2)
                    clip[start : start + length] = level * rng.uniform(-1.0, 1.0, length)
                sf.write(str(audio / name), clip, rate, subtype="PCM_16")
                rows.append([name, fold, target, category, str(target == 0), str(src), "A"])
    with open(folder / "meta" / "esc50.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(ESC50_META_COLUMNS)
        writer.writerows(rows)
    return folder


#: Training options of the classifier recipe's learning tests on the toy data: small models, short crops, a
#: higher learning rate (any model family; the classifier options come with each family's test).
TOY_TRAINING_ARGS = (
    "--batch_size",
    "8",
    "--train_crop_s",
    "0.5",
    "--warmup_steps",
    "2",
    "--lr",
    "0.01",
    "--download",
    "False",
)
#: Classifier recipe options of the learning tests: tiny CNN14 (width 1/16).
TOY_CLASSIFIER_ARGS = ("--n_classes", "2", "--width", "0.0625", "--emb_dim", "32", *TOY_TRAINING_ARGS)
#: Options of eval.py that keep every method cheap on the tiny data (the integration tests).
FAST_EVAL_ARGS = (
    "--sanity_clips",
    "2",
    "--localization_event_s",
    "0.2",
    "--smoothgrad_samples",
    "4",
    "--ig_steps",
    "8",
    "--shap_samples",
    "4",
    "--rise_masks",
    "16",
    "--optimized_steps",
    "3",
    "--budgets",
    "[0.05, 0.5]",
    "--targeted_ranks",
    "[2]",
)


def eval_command(config: str, data: Path, noise: Path, source: str, decoder_ckpt: Path, out: Path) -> list:
    """The command line of ``eval.py`` with ``hparams/<config>`` on the tiny data (noise doubling as speech),
    with :data:`FAST_EVAL_ARGS`."""
    repo = Path(__file__).resolve().parents[1]
    return [
        sys.executable,
        str(repo / "recipes/ESC50/interpret/eval.py"),
        str(repo / "hparams" / config),
        "--data_folder",
        str(data),
        "--noise_folder",
        str(noise),
        "--speech_folder",
        str(noise),
        "--classifier_source",
        str(source),
        "--decoder_ckpt",
        str(decoder_ckpt),
        "--output_folder",
        str(out),
        *FAST_EVAL_ARGS,
    ]


def run_recipe(cmd: list, cwd: Path) -> str:
    """Run a recipe command line; fail with its output's tail unless it exits with 0; returns the output."""
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def toy_classifier_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One run of the ESC-50 classifier recipe on :func:`write_separable_esc50` (3 epochs, real-noise
    augmentation on every training clip), shared by the tests that check it learned and the L-MAC tests
    that explain it. Returns ``data``, ``data_files`` (its file list before the run), ``noise``, ``out``
    (the output folder) and ``log``."""
    root = tmp_path_factory.mktemp("toy_classifier")
    data = write_separable_esc50(root / "data")
    noise = write_noise_folder(root / "noise")
    out = root / "exp"
    repo = Path(__file__).resolve().parents[1]
    cmd = [
        sys.executable,
        str(repo / "recipes/ESC50/interpret/train_classifier.py"),
        str(repo / "hparams/classifier_cnn14_cpu.yaml"),
        "--data_folder",
        str(data),
        "--noise_folder",
        str(noise),
        "--noise_prob",
        "1.0",
        "--output_folder",
        str(out),
        "--number_of_epochs",
        "3",
        *TOY_CLASSIFIER_ARGS,
    ]
    data_files = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    return {"data": data, "data_files": data_files, "noise": noise, "out": out, "log": run_recipe(cmd, root)}
