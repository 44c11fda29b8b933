"""A mistyped model source stops with one clear error before SpeechBrain's fetch (lmac_brain.models.sources).

Every option that takes a folder or hub id (``classifier_source``, ``pretrained_source``, ``decoder_init``,
``gate_init``, eval's ``decoder_ckpt``, ``LMACInterpreter.from_hparams(source=...)``, ``lmac explain
--source``) goes through :func:`check_source`; a local-looking path that does not exist must not reach
``huggingface_hub`` (``HFValidationError: Repo id must be in the form ...``). Hub ids must still reach it.
"""

import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hyperpyyaml import load_hyperpyyaml
from limits import HANG_S

from lmac_brain.models.sources import SourceNotFoundError, check_pretrainer_paths, check_source, is_hub_id
from lmac_brain.recipe.variants import config_text

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "pretrained" / "lmac_cnn14_cpu_esc50"
#: The typo of the issue: the run's id inserted above the export folder.
TYPO = "results/finetune_classifier_cpu/1234/classifier"


def _no_hub_frames(info: pytest.ExceptionInfo) -> None:
    """The error was raised before any huggingface_hub code ran, and chains nothing from it."""
    assert not any("huggingface_hub" in str(entry.path) for entry in info.traceback)
    assert "huggingface" not in str(info.value).lower() and info.value.__cause__ is None


@pytest.fixture
def trained_here(tmp_path, monkeypatch):
    """A working folder holding ``results/finetune_classifier_cpu/classifier`` (what TYPO meant)."""
    (tmp_path / "results" / "finetune_classifier_cpu" / "classifier").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------------------------------
# The rule and the one check.


@pytest.mark.parametrize(
    "source, hub",
    [
        ("speechbrain/cnn14-esc50", True),
        ("owner/my_model.v2", True),
        (TYPO, False),  # more than one /
        ("results/classifier", False),  # results is a folder here
        ("./classifier", False),
        ("../classifier", False),
        ("~/classifier", False),
        ("/abs/classifier", False),
        ("classifier", False),  # a bare name
        ("owner\\model", False),
        ("owner/-model", False),
        ("owner/model.git", False),
        ("own--er/model", False),
        ("https://example.org/model", False),
    ],
)
def test_hub_id_rule(trained_here, source, hub):
    assert is_hub_id(source) is hub


def test_missing_local_path_names_what_is_missing_and_what_to_do(trained_here):
    with pytest.raises(SourceNotFoundError) as info:
        check_source(TYPO, "classifier folder", option="--classifier_source")
    message = str(info.value)
    parent = trained_here / "results" / "finetune_classifier_cpu"
    assert message.startswith(f"{TYPO}: classifier folder not found ({parent} has no 1234; it holds: classifier)")
    assert message.endswith("Give --classifier_source an existing folder, or a hub id of the form owner/name.")
    with pytest.raises(SourceNotFoundError, match=r"has no classifer; did you mean classifier\?"):
        check_source("results/finetune_classifier_cpu/classifer", "classifier folder")
    with pytest.raises(SourceNotFoundError, match="results is a folder here, so this is a path, not a hub id"):
        check_source("results/clf")


def test_files_and_folders_are_not_mixed_up(trained_here):
    folder = "results/finetune_classifier_cpu/classifier"
    (trained_here / folder / "decoder.ckpt").write_bytes(b"x")
    assert check_source(folder) == folder
    assert check_source(f"{folder}/decoder.ckpt", file=True) == f"{folder}/decoder.ckpt"
    with pytest.raises(SourceNotFoundError, match="is a folder; decoder checkpoint must be a file"):
        check_source(folder, "decoder checkpoint", option="--decoder_init", file=True)
    with pytest.raises(SourceNotFoundError, match="is a file; classifier folder must be a folder"):
        check_source(f"{folder}/decoder.ckpt", "classifier folder")


def test_hub_ids_urls_and_home_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for source in ("speechbrain/cnn14-esc50", "https://example.org/x"):
        assert check_source(source) == source
    assert check_source("speechbrain/cnn14-esc50/decoder.ckpt", file=True) == "speechbrain/cnn14-esc50/decoder.ckpt"
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "clf").mkdir()
    assert check_source("~/clf") == str(tmp_path / "clf")  # expanded: SpeechBrain's fetch would not
    with pytest.raises(SourceNotFoundError, match="~/clf2: model folder not found"):
        check_source("~/clf2")


def test_hub_id_reaches_speechbrain_fetch_untouched(monkeypatch, tmp_path):
    from lmac_brain.interface import interpreter

    monkeypatch.chdir(tmp_path)
    asked = []

    def fake_fetch(filename, source, **kwargs):
        asked.append((filename, source))
        raise RuntimeError("stop")

    monkeypatch.setattr(interpreter, "fetch", fake_fetch)
    with pytest.raises(RuntimeError, match="stop"):
        interpreter.LMACInterpreter.from_hparams(source="speechbrain/some-interpreter")
    assert asked == [("hyperparams.yaml", "speechbrain/some-interpreter")]


# --------------------------------------------------------------------------------------------------
# Each entry point, in-process.


def _sounds(root: Path) -> Path:
    for name in ("dog/a.wav", "rain/b.wav"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(root / name), np.zeros(800), 16000)
    return root


def _load(yaml_name: str, overrides: dict) -> dict:
    """A config as the recipes load it (a variant through its base)."""
    return load_hyperpyyaml(config_text(str(REPO / "hparams" / yaml_name)), overrides)


@pytest.mark.parametrize(
    "yaml_name, key",
    [
        ("lmac_cnn14_cpu.yaml", "classifier_source"),  # the L-MAC recipe
        ("lmac_custom_cpu.yaml", None),  # the custom recipe's default: the classifier not trained yet
        ("finetune_classifier_cpu.yaml", "pretrained_source"),  # the classifier fine-tune
        ("eval_cnn14_cpu.yaml", "classifier_source"),  # eval.py
    ],
)
def test_yaml_load_stops_on_a_mistyped_classifier_folder(trained_here, yaml_name, key):
    overrides = {
        "data_folder": "d",
        "noise_folder": "n",
        "speech_folder": "s",
        "dataset": str(_sounds(trained_here / "sounds")),
        "output_folder": str(trained_here / "out"),
    }
    if key:
        overrides[key] = TYPO
    known = config_text(str(REPO / "hparams" / yaml_name))
    overrides = {k: v for k, v in overrides.items() if f"\n{k}:" in known}
    with pytest.raises(SourceNotFoundError, match="classifier folder not found") as info:
        _load(yaml_name, overrides)
    assert str(info.value).startswith(f"{TYPO}: classifier folder not found")  # also lmac_custom_cpu.yaml's default
    _no_hub_frames(info)


@pytest.mark.parametrize("key", ["decoder_init"])
def test_train_lmac_stops_on_a_mistyped_decoder_checkpoint(tmp_path, monkeypatch, key):
    from lmac_brain.recipe.runs import train_lmac

    monkeypatch.chdir(tmp_path)
    hparams = _load(
        "lmac_cnn14_cpu.yaml",
        {
            "data_folder": "d",
            "noise_folder": "n",
            "classifier_source": str(SHIPPED),
            "output_folder": str(tmp_path / "out"),
            key: "results/lmac_cnn14_cpu/1234/save/decoder.ckpt",
        },
    )
    with pytest.raises(
        SourceNotFoundError, match=f"decoder checkpoint not found .*Give --{key} an existing file"
    ) as info:
        train_lmac(hparams, {}, {}, None)  # stops before the manifests or anything else are used
    _no_hub_frames(info)
    assert not (tmp_path / "out" / "save" / "classifier").exists()  # nothing fetched


def test_pretrainer_paths_are_checked_as_files(tmp_path):
    hparams = _load(
        "eval_cnn14_cpu.yaml",
        {
            "data_folder": "d",
            "noise_folder": "n",
            "speech_folder": "s",
            "classifier_source": str(SHIPPED),
            "decoder_ckpt": str(tmp_path / "lmac" / "1234" / "decoder.ckpt"),
            "output_folder": str(tmp_path / "out"),
        },
    )
    with pytest.raises(SourceNotFoundError, match=r"decoder.ckpt: checkpoint \(decoder\) not found"):
        check_pretrainer_paths(hparams["pretrainer"])


def test_eval_stops_on_a_mistyped_decoder_ckpt(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("eval_recipe", REPO / "recipes/ESC50/interpret/eval.py")
    eval_recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(eval_recipe)
    typo = str(tmp_path / "lmac" / "1234" / "decoder.ckpt")
    hparams = _load(
        "eval_cnn14_cpu.yaml",
        {
            "data_folder": "d",
            "noise_folder": "n",
            "speech_folder": "s",
            "classifier_source": str(SHIPPED),
            "decoder_ckpt": typo,
            "output_folder": str(tmp_path / "out"),
        },
    )
    monkeypatch.setattr(eval_recipe, "start_experiment", lambda argv: (hparams, {}))  # no logging set-up here
    with pytest.raises(SourceNotFoundError) as info:
        eval_recipe.main([])
    assert str(info.value).startswith(f"{typo}: decoder checkpoint not found ({tmp_path} has no lmac")
    assert "Give --decoder_ckpt an existing file" in str(info.value)
    _no_hub_frames(info)


def test_from_hparams_and_cli_stop_on_a_mistyped_folder(trained_here, caplog):
    from lmac_brain.interface.cli import main
    from lmac_brain.interface.interpreter import LMACInterpreter

    typo = "results/lmac_custom_cpu/1234/interpreter"
    with pytest.raises(SourceNotFoundError, match=f"^{typo}: interpreter folder not found") as info:
        LMACInterpreter.from_hparams(source=typo)
    _no_hub_frames(info)
    sf.write(str(trained_here / "a.wav"), np.zeros(1600), 16000)
    with caplog.at_level(logging.ERROR):
        assert main(["explain", str(trained_here / "a.wav"), "--source", typo, "--out", str(trained_here / "o")]) == 2
    assert f"{typo}: interpreter folder not found ({trained_here / 'results'} has no lmac_custom_cpu" in caplog.text
    assert "Give --source an existing folder" in caplog.text and "shipped model" in caplog.text
    assert not (trained_here / "o").exists()


# --------------------------------------------------------------------------------------------------
# One recipe end to end: the command.


@pytest.mark.slow
def test_lmac_recipe_with_a_mistyped_classifier_source_exits_with_the_clear_error(trained_here):
    cmd = [
        sys.executable,
        str(REPO / "recipes/ESC50/interpret/train_lmac.py"),
        str(REPO / "hparams/lmac_cnn14_cpu.yaml"),
        "--data_folder",
        "esc50",
        "--noise_folder",
        "noise",
        "--classifier_source",
        TYPO,
        "--output_folder",
        "out",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=trained_here, capture_output=True, text=True, timeout=HANG_S, env=env)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    parent = trained_here / "results" / "finetune_classifier_cpu"
    assert last.startswith(
        f"lmac_brain.models.sources.SourceNotFoundError: {TYPO}: classifier folder not found "
        f"({parent} has no 1234; it holds: classifier)"
    ), proc.stderr[-3000:]
    assert "huggingface_hub" not in proc.stderr and "HFValidationError" not in proc.stderr
    assert not (trained_here / "out").exists()  # stopped while loading the YAML, before the experiment folder
