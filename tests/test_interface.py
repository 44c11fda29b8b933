"""Tests of lmac_brain.interface: export -> from_hparams round trip, stale savedir, files."""

import numpy as np
import soundfile as sf
import torch

from lmac_brain.classifier import AudioClassifier, Cnn14
from lmac_brain.decoder import LMACDecoder, rep_channels
from lmac_brain.export import export_interpreter
from lmac_brain.frontend import Frontend
from lmac_brain.interface import LMACInterpreter
from lmac_brain.lmac import LMAC

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


def _export(tmp_path, name, seed):
    labels = tmp_path / "label_encoder.txt"
    labels.write_text(LABELS, encoding="utf-8")
    lmac = _lmac(seed)
    return lmac, export_interpreter(str(tmp_path / name), lmac, str(labels), {"seed": seed}, "# card\n")


def test_round_trip_reproduces_the_masks(tmp_path):
    lmac, folder = _export(tmp_path, "interp", 0)
    interp = LMACInterpreter.from_hparams(source=folder, savedir=str(tmp_path / "cache"))
    wavs = torch.randn(2, 12000) * 0.3
    out = interp.interpret_batch(wavs)
    assert (out.mask - lmac.explain(wavs)).abs().max() < 1e-5
    assert out.interpretation.shape == out.masked_out.shape == wavs.shape
    assert out.probs.shape == (2, 3) and set(out.labels) <= {"dog", "rain", "cat"}


def test_changed_source_in_the_same_savedir_loads_the_new_weights(tmp_path):
    _, first = _export(tmp_path, "first", 0)
    second_lmac, second = _export(tmp_path, "second", 1)
    cache = str(tmp_path / "cache")
    LMACInterpreter.from_hparams(source=first, savedir=cache)
    interp = LMACInterpreter.from_hparams(source=second, savedir=cache)
    wavs = torch.randn(1, 8000)
    assert (interp.interpret_batch(wavs).mask - second_lmac.explain(wavs)).abs().max() < 1e-5


def test_interpret_file_resamples_and_keeps_length(tmp_path):
    _, folder = _export(tmp_path, "interp", 0)
    path = tmp_path / "clip.wav"
    sf.write(str(path), np.random.default_rng(0).standard_normal((22050, 2)) * 0.1, 44100)
    out = LMACInterpreter.from_hparams(source=folder, savedir=str(tmp_path / "cache")).interpret_file(str(path))
    assert out.interpretation.shape == (1, 8000)


def test_cli_explains_a_folder_and_reports_bad_files(tmp_path):
    from lmac_brain.cli import main

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
    from lmac_brain.cli import main

    sf.write(str(tmp_path / "a.wav"), np.zeros(1600), 16000)
    assert main(["explain", str(tmp_path), "--source", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "interpreter folder not found" in caplog.text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["explain", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no audio files" in caplog.text
    assert main(["explain", str(tmp_path / "missing.wav"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in caplog.text
