"""Tests of lmac_brain.interface.interpreter and the CLI: export -> from_hparams round trip, savedirs (stale links,
user files), input normalisation, mismatched checkpoints, --overwrite, no Captum at explain time."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from limits import HANG_S

from lmac_brain.data.audio import peak_normalize
from lmac_brain.explain.lmac import LMAC
from lmac_brain.interface.cli import DEFAULT_SOURCE, main
from lmac_brain.interface.export import export_interpreter
from lmac_brain.interface.folder_checks import ModelFolderError
from lmac_brain.interface.interpreter import LMACInterpreter
from lmac_brain.interface.savedir import SAVEDIR_MARKER, SavedirError
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend

LABELS = "'dog' => 0\n'rain' => 1\n'cat' => 2\n================\n'starting_index' => 0\n"


def _lmac(seed):
    torch.manual_seed(seed)
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    lmac = LMAC(Frontend(), AudioClassifier(emb, torch.nn.Linear(16, 3)), LMACDecoder(rep_channels(emb), hidden=8))
    with torch.no_grad():  # non-default BN statistics in classifier and decoder
        lmac.classifier.train()(torch.rand(4, 60, 80) * 2)
        lmac.decoder.train()
        lmac(torch.randn(4, 8000))
    return lmac.eval()


def _export(tmp_path, name, seed, **kwargs):
    labels = tmp_path / "label_encoder.txt"
    labels.write_text(LABELS, encoding="utf-8")
    lmac = _lmac(seed)
    return lmac, export_interpreter(str(tmp_path / name), lmac, str(labels), {"seed": seed}, "# card\n", **kwargs)


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder`` (links not followed): relative path -> bytes (or link target)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(folder))] = ("link", os.readlink(path))
        elif path.is_file():
            out[str(path.relative_to(folder))] = path.read_bytes()
    return out


def _user_folder(folder: Path) -> dict:
    (folder / "data").mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes\n", encoding="utf-8")
    sf.write(str(folder / "data" / "a.wav"), np.random.default_rng(0).standard_normal(1600) * 0.1, 16000)
    return _snapshot(folder)


def test_round_trip_reproduces_the_masks(tmp_path):
    lmac, folder = _export(tmp_path, "interp", 0)
    interp = LMACInterpreter.from_hparams(source=folder, savedir=str(tmp_path / "cache"))
    wavs = torch.randn(2, 12000) * 0.3
    out = interp.interpret_batch(wavs)
    assert interp.input_normalization == "peak"  # written by export_interpreter, what the recipes train with
    assert (out.mask - lmac.explain(peak_normalize(wavs))).abs().max() < 1e-5
    assert (out.input - peak_normalize(wavs)).abs().max() == 0
    assert out.interpretation.shape == out.masked_out.shape == wavs.shape
    assert out.probs.shape == (2, 3) and set(out.labels) <= {"dog", "rain", "cat"}


def test_changed_source_in_the_same_savedir_loads_the_new_weights(tmp_path):
    _, first = _export(tmp_path, "first", 0)
    second_lmac, second = _export(tmp_path, "second", 1)
    cache = str(tmp_path / "cache")
    LMACInterpreter.from_hparams(source=first, savedir=cache)
    assert os.path.realpath(os.path.join(cache, "hyperparams.yaml")) == os.path.join(first, "hyperparams.yaml")
    interp = LMACInterpreter.from_hparams(source=second, savedir=cache)
    for name in ("hyperparams.yaml", "decoder.ckpt", "classifier.ckpt"):  # no stale link to the first source
        assert os.path.realpath(os.path.join(cache, name)).startswith(second + os.sep)
    wavs = peak_normalize(torch.randn(1, 8000))
    assert (interp.interpret_batch(wavs).mask - second_lmac.explain(wavs)).abs().max() < 1e-5


def test_savedir_holding_user_files_keeps_every_file(tmp_path):
    _, folder = _export(tmp_path, "interp", 0)
    user = tmp_path / "user"
    before = _user_folder(user)
    for _ in range(2):  # a first load and a reload into the same savedir
        interp = LMACInterpreter.from_hparams(source=folder, savedir=str(user))
        interp.interpret_batch(torch.randn(1, 8000))
        after = _snapshot(user)
        assert {k: after[k] for k in before} == before  # byte for byte
    added = set(after) - set(before)
    assert added == {
        SAVEDIR_MARKER,
        "hyperparams.yaml",
        "embedding_model.ckpt",
        "classifier.ckpt",
        "decoder.ckpt",
        "label_encoder.ckpt",
    }


def test_savedir_dot_keeps_the_working_folder(tmp_path, monkeypatch):
    _, folder = _export(tmp_path, "interp", 0)
    user = tmp_path / "work"
    before = _user_folder(user)
    monkeypatch.chdir(user)
    LMACInterpreter.from_hparams(source=folder, savedir=".").interpret_batch(torch.randn(1, 8000))
    after = _snapshot(user)
    assert {k: after[k] for k in before} == before


def test_default_savedir_writes_nothing(tmp_path, monkeypatch):
    _, folder = _export(tmp_path, "interp", 0)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    source_before = _snapshot(Path(folder))
    LMACInterpreter.from_hparams(source=folder).interpret_batch(torch.randn(1, 8000))
    assert list(work.iterdir()) == [] and _snapshot(Path(folder)) == source_before
    LMACInterpreter.from_hparams(source=folder, savedir=folder)  # the savedir is the folder itself: read in place
    assert _snapshot(Path(folder)) == source_before


@pytest.mark.parametrize("name", ["hyperparams.yaml", "decoder.ckpt"])
def test_user_file_of_a_needed_name_is_refused_and_kept(tmp_path, name):
    _, folder = _export(tmp_path, "interp", 0)
    user = tmp_path / "user"
    _user_folder(user)
    (user / name).write_text("the user's own file\n", encoding="utf-8")
    before = _snapshot(user)
    with pytest.raises(SavedirError, match=f"already holds {name}, which lmac_brain did not create") as info:
        LMACInterpreter.from_hparams(source=folder, savedir=str(user))
    assert str(user) in str(info.value) and "Nothing was changed" in str(info.value)
    assert _snapshot(user) == before  # not even the marker was written


def test_cli_refuses_a_savedir_with_user_files_of_needed_names(tmp_path, caplog):
    _, folder = _export(tmp_path, "interp", 0)
    user = tmp_path / "user"
    _user_folder(user)
    (user / "hyperparams.yaml").write_text("mine\n", encoding="utf-8")
    before = _snapshot(user)
    code = main(
        ["explain", str(user / "data"), "--source", folder, "--savedir", str(user), "--out", str(tmp_path / "o")]
    )
    assert code == 2 and "which lmac_brain did not create" in caplog.text
    assert _snapshot(user) == before


def test_input_normalization_is_stored_and_old_folders_default_to_peak(tmp_path):
    lmac, folder = _export(tmp_path, "interp", 0)
    hparams = Path(folder) / "hyperparams.yaml"
    assert "\ninput_normalization: peak\n" in hparams.read_text(encoding="utf-8")
    hparams.write_text(
        hparams.read_text(encoding="utf-8").replace("\ninput_normalization: peak\n", "\n"), encoding="utf-8"
    )
    old = LMACInterpreter.from_hparams(source=folder)  # exported before the key existed
    wavs = torch.randn(1, 8000) * 0.01
    assert old.input_normalization == "peak"
    assert (old.interpret_batch(wavs).mask - lmac.explain(peak_normalize(wavs))).abs().max() < 1e-5
    _, raw_folder = _export(tmp_path, "raw", 0, input_normalization="none")
    raw = LMACInterpreter.from_hparams(source=raw_folder)
    assert raw.input_normalization == "none"
    assert (raw.interpret_batch(wavs).mask - lmac.explain(wavs)).abs().max() < 1e-5
    with pytest.raises(ValueError, match="Unknown input_normalization 'rms'"):
        _export(tmp_path, "bad", 0, input_normalization="rms")


def _real_clips(real_data, n):
    return sorted(real_data("esc50-16k", "audio").glob("5-*.flac"))[:n]


@pytest.mark.slow
def test_file_and_batch_give_the_same_explanation_at_any_input_level(real_data, tmp_path):
    interp = LMACInterpreter.from_hparams(source=DEFAULT_SOURCE)
    for clip in _real_clips(real_data, 2):
        samples, rate = sf.read(str(clip), dtype="float32")
        assert rate == interp.hparams.sample_rate
        reference = None
        for level in (0.05, 0.5, 1.0):
            path = tmp_path / f"{clip.stem}_x{level}.wav"
            sf.write(str(path), samples * np.float32(level), rate, subtype="FLOAT")
            from_file = interp.interpret_file(str(path))
            from_batch = interp.interpret_batch(torch.from_numpy(samples * np.float32(level)).unsqueeze(0))
            assert from_file.labels == from_batch.labels
            assert (from_file.mask - from_batch.mask).abs().max() < 1e-5
            if reference is None:
                reference = from_file
            assert from_file.labels == reference.labels, f"{clip.name}: the decision changes with the level"
            assert (from_file.mask - reference.mask).abs().max() < 1e-5, f"{clip.name}: the mask changes with the level"


def test_checkpoint_of_another_head_shape_names_the_file_and_both_shapes(tmp_path, caplog):
    _, folder = _export(tmp_path, "interp", 0)
    torch.save(torch.nn.Linear(16, 5).state_dict(), os.path.join(folder, "classifier.ckpt"))
    with pytest.raises(ModelFolderError) as info:
        LMACInterpreter.from_hparams(source=folder, savedir=str(tmp_path / "cache"))
    message = str(info.value)
    assert message.startswith(os.path.join(folder, "classifier.ckpt") + ": does not fit the Linear")
    assert "weight is [5, 16] in the file but [3, 16] in the model" in message
    assert "bias is [5] in the file but [3] in the model" in message
    sf.write(str(tmp_path / "a.wav"), np.zeros(1600), 16000)
    assert main(["explain", str(tmp_path / "a.wav"), "--source", folder, "--out", str(tmp_path / "o")]) == 2
    assert "classifier.ckpt: does not fit the Linear" in caplog.text


def test_cli_overwrite_keeps_or_replaces_existing_outputs(tmp_path):
    _, folder = _export(tmp_path, "interp", 0)
    clip = tmp_path / "in" / "a.wav"
    clip.parent.mkdir()

    def explain(out, *flags):
        assert main(["explain", str(clip), "--source", folder, "--out", str(out), "--no-report", *flags]) == 0
        return _snapshot(out)

    sf.write(str(clip), np.random.default_rng(0).standard_normal(8000) * 0.1, 16000)
    first = explain(tmp_path / "out")
    assert len(first) == 5
    t = np.arange(12000) / 16000
    sf.write(str(clip), 0.5 * np.sin(2 * np.pi * 440 * t), 16000)  # the same name, other audio
    assert explain(tmp_path / "out") == first  # kept, byte for byte
    fresh = explain(tmp_path / "fresh")
    assert fresh != first
    assert explain(tmp_path / "out", "--overwrite") == fresh  # replaced by what a fresh run writes


@pytest.mark.slow
def test_explaining_does_not_import_captum(tmp_path):
    _, folder = _export(tmp_path, "interp", 0)
    sf.write(str(tmp_path / "a.wav"), np.random.default_rng(0).standard_normal(8000) * 0.1, 16000)
    script = (
        "import sys\n"
        "from lmac_brain.interface.cli import main\n"
        f"assert main(['explain', {str(tmp_path / 'a.wav')!r}, '--source', {folder!r}, "
        f"'--out', {str(tmp_path / 'o')!r}]) == 0\n"
        "print('after explain:', sorted(m for m in sys.modules if m.split('.')[0] == 'captum'))\n"
        "import lmac_brain.explain.baselines\n"
        "print('after baselines:', 'captum' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=HANG_S
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "after explain: []" in result.stdout
    assert "after baselines: True" in result.stdout  # the check sees Captum when it is imported
    assert (tmp_path / "o" / "a_interpretation.wav").is_file()


def test_interpret_file_resamples_and_keeps_length(tmp_path):
    _, folder = _export(tmp_path, "interp", 0)
    path = tmp_path / "clip.wav"
    sf.write(str(path), np.random.default_rng(0).standard_normal((22050, 2)) * 0.1, 44100)
    out = LMACInterpreter.from_hparams(source=folder, savedir=str(tmp_path / "cache")).interpret_file(str(path))
    assert out.interpretation.shape == (1, 8000)


def test_cli_explains_a_folder_and_reports_bad_files(tmp_path):
    from lmac_brain.interface.cli import main

    _, folder = _export(tmp_path, "interp", 0)
    audio = tmp_path / "audio"
    (audio / "sub").mkdir(parents=True)
    sf.write(str(audio / "a.wav"), np.random.default_rng(0).standard_normal(8000) * 0.1, 16000)
    sf.write(str(audio / "sub" / "b.flac"), np.random.default_rng(1).standard_normal(4000) * 0.1, 8000)
    (audio / "broken.wav").write_bytes(b"not audio at all")
    out = tmp_path / "out"
    code = main(["explain", str(audio), "--source", folder, "--savedir", str(tmp_path / "cache"), "--out", str(out)])
    assert code == 1  # one file failed, and was named in the log
    names = sorted(p.name for p in out.iterdir())
    per_file = (".json", ".png", "_input.wav", "_interpretation.wav", "_masked_out.wav")
    assert names == sorted([f"{s}{x}" for s in "ab" for x in per_file] + ["report.html"])
    assert sf.info(str(out / "b_interpretation.wav")).frames == 8000  # resampled to 16 kHz, input length


def test_mismatched_label_encoder_is_a_clear_error(tmp_path):
    import pytest

    _, folder = _export(tmp_path, "interp", 0)
    with open(f"{folder}/label_encoder.txt", "w", encoding="utf-8") as f:
        f.write("'dog' => 0\n'rain' => 1\n================\n'starting_index' => 0\n")
    with pytest.raises(ValueError, match="lists 2 classes but the classifier outputs 3"):
        LMACInterpreter.from_hparams(source=folder, savedir=str(tmp_path / "cache"))


def test_cli_missing_source_or_input_is_a_clear_error(tmp_path, caplog):
    from lmac_brain.interface.cli import main

    sf.write(str(tmp_path / "a.wav"), np.zeros(1600), 16000)
    assert main(["explain", str(tmp_path), "--source", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "interpreter folder not found" in caplog.text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["explain", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no audio files" in caplog.text
    assert main(["explain", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in caplog.text
