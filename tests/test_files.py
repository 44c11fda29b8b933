"""One audio listing for the whole project (lmac_brain.data.files): formats, order, and its users."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from lmac_brain.data.files import AUDIO_EXTENSIONS, list_audio_files


def _tone(seconds=1.0, rate=16000, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * freq * t)


@pytest.mark.parametrize("ext", AUDIO_EXTENSIONS)
def test_every_listed_format_is_read_by_soundfile_here(ext, tmp_path):
    path = tmp_path / f"clip{ext}"
    fmt = {".aif": "AIFF"}.get(ext)
    sf.write(str(path), _tone(0.5), 16000, format=fmt)
    audio, rate = sf.read(str(path))
    assert rate == 16000 and abs(len(audio) - 8000) < 1200  # mp3 pads with encoder delay


def test_listing_is_recursive_sorted_and_skips_hidden_and_other_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".cache").mkdir()
    for name in ("b.MP3", "a.aif", "sub/c.aiff", "d.ogg", ".hidden.wav", ".cache/e.wav"):
        sf.write(str(tmp_path / name), _tone(0.2), 16000, format="AIFF" if name.endswith(".aif") else None)
    (tmp_path / "notes.txt").write_text("not audio")
    listed = [os.path.relpath(p, tmp_path) for p in list_audio_files(tmp_path)]
    assert listed == ["a.aif", "b.MP3", "d.ogg", "sub/c.aiff"]


def test_noise_mixer_and_custom_data_find_the_same_formats(tmp_path):
    from lmac_brain.data.labelled_files import scan_class_folders
    from lmac_brain.data.noise import NoiseMixer

    for label, ext in (("dog", ".mp3"), ("rain", ".aiff")):
        (tmp_path / "data" / label).mkdir(parents=True)
        sf.write(str(tmp_path / "data" / label / f"x{ext}"), _tone(0.3), 16000)
    assert [f.label for f in scan_class_folders(tmp_path / "data")] == ["dog", "rain"]
    assert len(NoiseMixer(tmp_path / "data").files) == 2
    with pytest.raises(FileNotFoundError, match="noise folder not found"):
        NoiseMixer(tmp_path / "missing")


def test_lmac_explain_dir_explains_mp3_and_aiff(repo_root, tmp_path):
    from lmac_brain.interface.cli import main

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    sf.write(str(inputs / "tone.mp3"), _tone(1.0), 16000)
    sf.write(str(inputs / "chirp.aiff"), _tone(1.0, freq=1200.0), 22050, subtype="PCM_16")
    out = tmp_path / "out"
    assert main(["explain", str(inputs), "--out", str(out), "--savedir", str(tmp_path / "cache")]) == 0
    for stem in ("tone", "chirp"):
        record = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
        assert record["source"] == str(inputs / f"{stem}{'.mp3' if stem == 'tone' else '.aiff'}")
        assert (out / f"{stem}_interpretation.wav").is_file()
