"""The bad-input matrix: every kind of awkward or broken input, and what the project does with it.

Each case either is handled correctly (the checks say what "correct" means) or raises an error that
names the file, says what is wrong and what to do; no case leaves a partial output file. All inputs
are generated here in ``tmp_path``.

========================================  ====================================================
case                                      behaviour
========================================  ====================================================
empty file (0 bytes)                      ``AudioLoadError`` "the file is empty"
text file named ``.wav``                  ``AudioLoadError`` "not a readable audio file"
wav cut inside the header                 ``AudioLoadError`` "not a readable audio file"
wav cut right after the header            ``AudioLoadError`` "holds no samples (truncated ...)"
wav cut inside the audio                  loaded up to the cut, warning naming the file
8-bit, 24-bit, 32-bit float wav           loaded (same waveform and pitch as 16-bit)
stereo, 6 channels                        averaged to mono (antiphase stereo -> silence, finite)
8 / 22.05 / 44.1 / 48 kHz                 resampled to 16 kHz: ``ceil(N * 16000 / rate)``
                                          samples, pitch kept
0.1 s, 10 min                             loaded at full length (0.1 s is also explained)
digital silence                           zeros, not amplified; front end, mask, loss finite
NaN or Inf samples                        ``AudioLoadError`` "contains NaN or Inf samples"
clipped at +-1, float over full scale     loaded, peak-normalised to 1
interpreter folder: classes mismatch      ``ValueError`` "lists N classes but ... outputs M"
interpreter folder: missing/corrupt file  ``ModelFolderError`` naming the folder and the file
manifest naming missing audio             ``FileNotFoundError`` listing them before training
``lmac explain`` with bad files           bad files named and skipped, exit code 1
========================================  ====================================================
"""

from __future__ import annotations

import logging
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from lmac_brain.data.audio import AudioLoadError, load_audio
from lmac_brain.data.dataio import classification_datasets, label_encoder_from_manifest
from lmac_brain.explain.lmac import LMAC
from lmac_brain.explain.objective import lmac_loss
from lmac_brain.interface.export import export_classifier, export_interpreter
from lmac_brain.interface.folder_checks import ModelFolderError, check_interpreter_folder
from lmac_brain.interface.interpreter import LMACInterpreter
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend

RATE = 16000
LABELS3 = "'dog' => 0\n'rain' => 1\n'cat' => 2\n================\n'starting_index' => 0\n"


def sine(rate: int, seconds: float, freq: float = 1000.0, amplitude: float = 0.5) -> np.ndarray:
    """A float64 sine of ``round(rate * seconds)`` samples."""
    t = np.arange(int(round(rate * seconds))) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def peak_frequency(wav: np.ndarray, rate: int) -> float:
    """Frequency (Hz) of the largest FFT bin, with the bin width as resolution."""
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(len(wav))))
    return float(np.argmax(spectrum)) * rate / len(wav)


def tiny_lmac(n_classes: int = 3, seed: int = 0) -> LMAC:
    """The smallest L-MAC model (CNN14 at width 1/16), in eval mode."""
    torch.manual_seed(seed)
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    return LMAC(
        Frontend(), AudioClassifier(emb, torch.nn.Linear(16, n_classes)), LMACDecoder(rep_channels(emb), hidden=8)
    ).eval()


@pytest.fixture(scope="module")
def interpreter_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An intact exported interpreter folder (3 classes); copy it before damaging it."""
    tmp = tmp_path_factory.mktemp("interp")
    labels = tmp / "label_encoder.txt"
    labels.write_text(LABELS3, encoding="utf-8")
    return Path(export_interpreter(str(tmp / "interp"), tiny_lmac(), str(labels), {}, "# card\n"))


# --------------------------------------------------------------------------------------------------
# Unreadable files: a clear AudioLoadError naming the file.


def _write_truncated(path: Path, keep_bytes: int) -> Path:
    """A 16-bit, 1 s, 16 kHz wav whose bytes after ``keep_bytes`` are cut off (the header keeps its size)."""
    sf.write(str(path), sine(RATE, 1.0), RATE, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[:keep_bytes])
    return path


BROKEN_FILES = {
    "empty": (lambda p: p.write_bytes(b""), "the file is empty"),
    "text_named_wav": (
        lambda p: p.write_text("ID,label\nthis is a csv, not audio\n" * 20),
        "not a readable audio file",
    ),
    "cut_in_header": (lambda p: _write_truncated(p, 30), "not a readable audio file"),
    "cut_after_header": (lambda p: _write_truncated(p, 44), r"holds no samples \(truncated"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
def test_unreadable_file_is_a_clear_error(tmp_path, case):
    make, expected = BROKEN_FILES[case]
    path = tmp_path / f"{case}.wav"
    make(path)
    with pytest.raises(AudioLoadError, match=expected) as info:
        load_audio(path, RATE)
    message = str(info.value)
    assert message.startswith(str(path)) and ("remove" in message or "convert" in message)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_nan_or_inf_samples_are_rejected_not_sanitised(tmp_path, bad):
    path = tmp_path / f"{bad}.wav"
    data = sine(RATE, 0.1).astype(np.float32)
    data[100] = float(bad)
    sf.write(str(path), data, RATE, subtype="FLOAT")
    with pytest.raises(AudioLoadError, match="contains NaN or Inf samples") as info:
        load_audio(path, RATE)
    assert str(path) in str(info.value) and "Repair the file" in str(info.value)


def test_wav_cut_inside_the_audio_loads_what_is_there_with_a_warning(tmp_path, caplog):
    path = _write_truncated(tmp_path / "cut.wav", 44 + 2 * 6000 + 1)  # 6000 samples and half of one
    with caplog.at_level(logging.WARNING, logger="lmac_brain.data.audio"):
        wav = load_audio(path, RATE)
    assert wav.shape == (6000,) and bool(torch.isfinite(wav).all())
    assert str(path) in caplog.text and "truncated" in caplog.text and "0.375 s" in caplog.text


def test_intact_wav_gives_no_truncation_warning(tmp_path, caplog):
    path = tmp_path / "ok.wav"
    sf.write(str(path), sine(RATE, 0.2), RATE, subtype="PCM_16")
    with caplog.at_level(logging.WARNING, logger="lmac_brain.data.audio"):
        load_audio(path, RATE)
    assert "truncated" not in caplog.text


# --------------------------------------------------------------------------------------------------
# Bit depths, channels, rates, lengths: loaded correctly.


@pytest.mark.parametrize("subtype,atol", [("PCM_U8", 0.03), ("PCM_24", 1e-5), ("FLOAT", 1e-6)])
def test_bit_depths_load_the_same_waveform(tmp_path, subtype, atol):
    path = tmp_path / f"{subtype}.wav"
    x = sine(RATE, 0.5)
    sf.write(str(path), x, RATE, subtype=subtype)
    assert sf.info(str(path)).subtype == subtype
    wav = load_audio(path, RATE)
    assert wav.dtype == torch.float32 and wav.shape == (len(x),)
    np.testing.assert_allclose(wav.numpy(), x / np.abs(x).max(), atol=atol)
    assert abs(peak_frequency(wav.numpy(), RATE) - 1000.0) <= 2.0


@pytest.mark.parametrize("channels", [2, 6])
def test_multichannel_is_downmixed_to_mono(tmp_path, channels):
    path = tmp_path / f"{channels}ch.wav"
    data = np.stack([sine(RATE, 0.25, freq=500.0 * (c + 1), amplitude=0.1 * (c + 1)) for c in range(channels)], axis=1)
    sf.write(str(path), data, RATE, subtype="FLOAT")
    wav = load_audio(path, RATE, normalize=False)
    assert wav.shape == (data.shape[0],)
    np.testing.assert_allclose(wav.numpy(), data.mean(axis=1), atol=1e-6)


def test_antiphase_stereo_downmixes_to_finite_silence(tmp_path):
    path = tmp_path / "antiphase.wav"
    x = sine(RATE, 0.25)
    sf.write(str(path), np.stack([x, -x], axis=1), RATE, subtype="FLOAT")  # (16-bit: +-1 LSB residue)
    wav = load_audio(path, RATE)
    assert bool(torch.isfinite(wav).all()) and float(wav.abs().max()) == 0.0


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_other_rates_are_resampled_keeping_length_and_pitch(tmp_path, rate):
    path = tmp_path / f"{rate}.wav"
    x = np.concatenate([sine(rate, 0.3, freq=1500.0), np.zeros(7)])  # a length that does not divide evenly
    sf.write(str(path), x, rate, subtype="PCM_16")
    wav = load_audio(path, RATE)
    assert wav.shape == (math.ceil(len(x) * RATE / rate),)
    assert abs(peak_frequency(wav.numpy(), RATE) - 1500.0) <= RATE / len(wav)
    assert abs(float(wav.abs().max()) - 1.0) < 1e-6


def test_very_short_input_loads_and_is_explained(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(str(path), sine(RATE, 0.1), RATE, subtype="PCM_16")
    wav = load_audio(path, RATE)
    assert wav.shape == (1600,)
    with torch.no_grad():
        out = tiny_lmac().mask_of(wav.unsqueeze(0))
    assert out["mask"].shape[1] == Frontend().n_frames(1600) and bool(torch.isfinite(out["mask"]).all())


def test_ten_minute_input_loads_at_full_length(tmp_path):
    path = tmp_path / "long.wav"
    second = (0.1 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32)
    sf.write(str(path), np.tile(second, 600), RATE, subtype="PCM_16")
    wav = load_audio(path, RATE)
    assert wav.shape == (600 * RATE,) and bool(torch.isfinite(wav).all())


# --------------------------------------------------------------------------------------------------
# Silence and extreme levels: finite everywhere.


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_digital_silence_stays_zero(tmp_path, subtype):
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros(RATE // 2), RATE, subtype=subtype)
    wav = load_audio(path, RATE)
    assert wav.shape == (RATE // 2,) and bool(torch.isfinite(wav).all()) and float(wav.abs().max()) == 0.0


def test_silence_through_frontend_mask_and_loss_is_finite():
    silence = torch.zeros(2, RATE // 2)
    fe = Frontend()
    logmag, phase = fe.log_magnitude_phase(silence)
    assert all(bool(torch.isfinite(t).all()) for t in (logmag, phase, fe.features(logmag)))
    assert bool(torch.isfinite(fe.invert(logmag, phase, silence.shape[1])).all())

    lmac = tiny_lmac()
    with torch.no_grad():
        out = lmac.mask_of(silence)
    assert bool(torch.isfinite(out["mask"]).all()) and float(out["mask"].min()) >= 0 and float(out["mask"].max()) <= 1

    lmac.train()  # one training step on silence: finite loss and decoder gradients
    out = lmac(silence)
    loss, _ = lmac_loss(out["logits_in"], out["logits_out"], out["logits"].argmax(dim=-1), out["mask"])
    loss.backward()
    assert bool(torch.isfinite(loss))
    assert all(bool(torch.isfinite(p.grad).all()) for p in lmac.decoder.parameters() if p.grad is not None)


@pytest.mark.parametrize("subtype,peak", [("PCM_16", 1.0), ("FLOAT", 1.0), ("FLOAT", 4.0)])
def test_clipped_or_over_range_input_loads(tmp_path, subtype, peak):
    path = tmp_path / "clipped.wav"
    x = np.clip(sine(RATE, 0.25, amplitude=1.5 * peak), -peak, peak)  # flat tops at +-peak
    sf.write(str(path), x, RATE, subtype=subtype)
    raw = load_audio(path, RATE, normalize=False)
    assert abs(float(raw.abs().max()) - peak) < 1e-3  # float files keep values beyond full scale
    wav = load_audio(path, RATE)
    assert bool(torch.isfinite(wav).all()) and abs(float(wav.abs().max()) - 1.0) < 1e-6


# --------------------------------------------------------------------------------------------------
# Damaged or mismatched interpreter folders.


def _garbage(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)


def _cut_in_half(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


DAMAGES = {
    "missing_decoder": ("decoder.ckpt", lambda p: p.unlink(), "missing from model folder"),
    "missing_label_encoder": ("label_encoder.txt", lambda p: p.unlink(), "missing from model folder"),
    "missing_hyperparams": ("hyperparams.yaml", lambda p: p.unlink(), "missing; .* is not an exported model folder"),
    "garbage_decoder": ("decoder.ckpt", _garbage, "corrupt checkpoint"),
    "cut_embedding_model": ("embedding_model.ckpt", _cut_in_half, "corrupt checkpoint"),
    "empty_classifier": ("classifier.ckpt", lambda p: p.write_bytes(b""), r"empty \(0 bytes\)"),
    "not_a_state_dict": ("classifier.ckpt", lambda p: torch.save([1, 2, 3], str(p)), "not a state dict"),
    "garbage_label_encoder": (
        "label_encoder.txt",
        lambda p: p.write_text("dog\nrain\n"),
        "not a readable label encoder",
    ),
}


def _damaged_copy(interpreter_folder: Path, tmp_path: Path, case: str) -> tuple:
    name, damage, expected = DAMAGES[case]
    folder = tmp_path / "interp"
    shutil.copytree(interpreter_folder, folder)
    damage(folder / name)
    return folder, folder / name, expected


@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_damaged_interpreter_folder_is_a_clear_error(interpreter_folder, tmp_path, case):
    folder, path, expected = _damaged_copy(interpreter_folder, tmp_path, case)
    with pytest.raises(ModelFolderError, match=expected) as info:
        check_interpreter_folder(folder)
    message = str(info.value)
    assert message.startswith(str(path)) and str(folder) in message
    assert "Re-export" in message or "re-export" in message


@pytest.mark.parametrize("case", ["missing_decoder", "garbage_decoder"])
def test_from_hparams_on_a_damaged_folder_names_the_file(interpreter_folder, tmp_path, case):
    folder, path, expected = _damaged_copy(interpreter_folder, tmp_path, case)
    with pytest.raises(ModelFolderError, match=expected) as info:
        LMACInterpreter.from_hparams(source=str(folder), savedir=str(tmp_path / "cache"))
    assert str(path) in str(info.value)


def test_intact_folders_pass_the_check(interpreter_folder, tmp_path, repo_root):
    check_interpreter_folder(interpreter_folder)
    check_interpreter_folder(repo_root / "pretrained" / "lmac_cnn14_cpu_esc50")
    labels = tmp_path / "label_encoder.txt"
    labels.write_text(LABELS3, encoding="utf-8")
    clf = tiny_lmac().classifier
    check_interpreter_folder(export_classifier(str(tmp_path / "clf"), Frontend(), clf, str(labels), {}))


def test_label_encoder_with_more_classes_than_the_classifier_is_a_clear_error(interpreter_folder, tmp_path):
    folder = tmp_path / "interp"
    shutil.copytree(interpreter_folder, folder)
    (folder / "label_encoder.txt").write_text(
        "'dog' => 0\n'rain' => 1\n'cat' => 2\n'cow' => 3\n================\n'starting_index' => 0\n", encoding="utf-8"
    )
    check_interpreter_folder(folder)  # every file is readable: the mismatch shows only with the model built
    with pytest.raises(ValueError, match="lists 4 classes but the classifier outputs 3"):
        LMACInterpreter.from_hparams(source=str(folder), savedir=str(tmp_path / "cache"))


# --------------------------------------------------------------------------------------------------
# Manifests naming missing audio: every missing file reported before training starts.


def test_manifest_with_missing_audio_stops_before_training(tmp_path):
    present = tmp_path / "present.wav"
    sf.write(str(present), sine(RATE, 0.1), RATE)
    missing = [str(tmp_path / "gone" / f"clip{i:02d}.wav") for i in range(12)]
    train = tmp_path / "train.csv"
    valid = tmp_path / "valid.csv"
    rows = [f"p,0.1,{present},dog"] + [f"m{i},5.0,{m},rain" for i, m in enumerate(missing[:8])]
    train.write_text("ID,duration,wav,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    valid.write_text(
        "ID,duration,wav,label\n" + "\n".join(f"v{i},5.0,{m},dog" for i, m in enumerate(missing[8:])) + "\n",
        encoding="utf-8",
    )
    encoder = label_encoder_from_manifest(str(train), str(tmp_path / "label_encoder.txt"))
    with pytest.raises(FileNotFoundError) as info:
        classification_datasets({"train": str(train), "valid": str(valid)}, encoder, RATE)
    message = str(info.value)
    assert message.startswith("12 of the 13 audio files named in the manifests are missing")
    assert all(m in message for m in missing[:10]) and not any(m in message for m in missing[10:])
    assert "... and 2 more" in message and f"ID v0 in {valid}" in message and "Restore the files" in message


def test_missing_manifest_is_named(tmp_path):
    encoder_file = tmp_path / "label_encoder.txt"
    encoder_file.write_text("'dog' => 0\n================\n'starting_index' => 0\n", encoding="utf-8")
    encoder = label_encoder_from_manifest("unused", str(encoder_file))
    with pytest.raises(
        FileNotFoundError, match=re.escape(f"{tmp_path / 'test.csv'}: the test manifest does not exist")
    ):
        classification_datasets({"test": str(tmp_path / "test.csv")}, encoder, RATE)


# --------------------------------------------------------------------------------------------------
# The command line keeps going past bad files and writes nothing for them.


def test_cli_skips_and_reports_bad_files(interpreter_folder, tmp_path, caplog):
    from lmac_brain.interface.cli import main

    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(str(audio / "good.wav"), sine(RATE, 0.5), RATE, subtype="PCM_16")
    _write_truncated(audio / "cut.wav", 44 + 2 * 4000)  # readable: explained from what is present
    bad = {"empty.wav": "empty", "text.wav": "not a readable audio file", "nan.wav": "NaN or Inf"}
    (audio / "empty.wav").write_bytes(b"")
    (audio / "text.wav").write_text("not audio\n" * 50)
    nan = sine(RATE, 0.2).astype(np.float32)
    nan[5] = np.nan
    sf.write(str(audio / "nan.wav"), nan, RATE, subtype="FLOAT")
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        code = main(
            [
                "explain",
                str(audio),
                "--source",
                str(interpreter_folder),
                "--savedir",
                str(tmp_path / "cache"),
                "--out",
                str(out),
            ]
        )
    assert code == 1
    per_file = (".json", ".png", "_input.wav", "_interpretation.wav", "_masked_out.wav")
    expected = sorted([f"{stem}{suffix}" for stem in ("cut", "good") for suffix in per_file] + ["report.html"])
    assert sorted(p.name for p in out.iterdir()) == expected  # nothing (not even a temporary file) for bad files
    assert sf.info(str(out / "cut_interpretation.wav")).frames == 4000
    for name, problem in bad.items():
        assert any(
            str(audio / name) in r.getMessage() and problem in r.getMessage()
            for r in caplog.records
            if r.levelno >= logging.ERROR
        )
