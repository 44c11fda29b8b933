"""Tests of lmac_brain.evaluation.localization: a perfect oracle mask scores IoU 1 and pointing game 100%."""

import numpy as np
import pytest
import soundfile as sf
import torch
from limits import HANG_S

from lmac_brain.evaluation.localization import LocalizationSet, pointing_game, si_sdr, span_frames, time_iou
from lmac_brain.explain.listen import listenable
from lmac_brain.models.frontend import Frontend


@pytest.fixture
def loc_set(tmp_path):
    rng = np.random.default_rng(0)
    clips = []
    for i in range(3):
        t = np.arange(16000 * 2) / 16000
        sf.write(str(tmp_path / f"c{i}.wav"), np.sin(2 * np.pi * (300 + 200 * i) * t) * (t > 0.7), 16000)
        clips.append((f"c{i}", str(tmp_path / f"c{i}.wav")))
    sf.write(str(tmp_path / "bg.wav"), 0.3 * rng.standard_normal(16000 * 3), 16000)
    return LocalizationSet(clips, [str(tmp_path / "bg.wav")], 16000, clip_s=3.0, event_s=0.5, seed=3)


def test_oracle_mask_scores_perfectly(loc_set):
    fe = Frontend()
    for i in range(len(loc_set)):
        _, mix, event, (start, end), _ = loc_set[i]
        n_frames = fe.n_frames(mix.numel())
        span = span_frames(start, end, fe.hop_length, n_frames)
        oracle = torch.zeros(1, n_frames, fe.n_freqs)
        oracle[0, span[0] : span[1]] = 1.0
        assert time_iou(oracle, [span]).item() == 1.0
        assert pointing_game(oracle, [span]).item() == 1.0
        # A mask that keeps everything scores the span's share of the clip.
        assert time_iou(torch.ones_like(oracle), [span]).item() == pytest.approx((span[1] - span[0]) / n_frames)


def test_event_track_and_si_sdr(loc_set):
    fe = Frontend()
    _, mix, event, (start, end), _ = loc_set[0]
    assert event[:start].abs().max() == 0 and event[end:].abs().max() == 0
    assert mix.abs().max().item() == pytest.approx(1.0)
    # Listening to the ideal ratio mask of the event gives a high SI-SDR; the mixture a low one.
    logmag, phase = fe.log_magnitude_phase(mix.view(1, -1))
    ev_mag = fe.log_magnitude_phase(event.view(1, -1))[0].expm1()
    irm = (ev_mag / logmag.expm1().clamp(min=1e-8)).clamp(0, 1)
    good = listenable(fe, logmag, phase, irm, mix.numel(), "linear")
    assert si_sdr(good, event.view(1, -1)).item() > si_sdr(mix.view(1, -1), event.view(1, -1)).item() + 5


def test_localization_set_is_reproducible(loc_set):
    a, b = loc_set[1], loc_set[1]
    assert a[0] == b[0] and torch.equal(a[1], b[1]) and a[3] == b[3]


def test_each_event_is_explained_for_its_own_class(tmp_path, loc_set):
    """The pointing game scores the map of the event's class (Zhang et al. 2016), not of the decision."""
    from lmac_brain.evaluation.evaluate import localization_rows

    labelled = LocalizationSet(
        loc_set.clips, loc_set.backgrounds, 16000, clip_s=3.0, event_s=0.5, seed=3, targets=[2, 0, 1]
    )
    assert [labelled[i][4] for i in range(3)] == [2, 0, 1] and loc_set[0][4] is None
    assert torch.equal(labelled[1][1], loc_set[1][1])  # the same mixtures, only the class is added
    fe = Frontend()

    class Recorder:  # keeps everything, and records the classes it was asked to explain
        asked = []

        def explain(self, wavs, target=None):
            self.asked.append(target)
            return torch.ones(wavs.shape[0], fe.n_frames(wavs.shape[1]), fe.n_freqs)

    def always_0(logmag):  # a classifier deciding class 0
        return torch.tensor([[1.0, 0.0, 0.0]]).expand(logmag.shape[0], 3)

    rows = localization_rows("rec", Recorder(), labelled, fe, "log1p", 2, scorer=always_0)
    assert [t.tolist() for t in Recorder.asked] == [[2, 0], [1]]
    assert [r["Heard (%)"] for r in rows] == [0.0, 100.0, 0.0]  # the decision is the event's class for the 2nd only
    Recorder.asked.clear()
    rows = localization_rows("rec", Recorder(), loc_set, fe, "log1p", 3, scorer=always_0)  # no classes: the decision
    assert Recorder.asked == [None] and "Heard (%)" not in rows[0]
    with pytest.raises(ValueError, match="2 targets for 3 clips"):
        LocalizationSet(loc_set.clips, loc_set.backgrounds, 16000, clip_s=3.0, event_s=0.5, targets=[0, 1])


def test_clip_classes_come_from_the_classifier_labels(tmp_path):
    from lmac_brain.evaluation.evalsets import esc50_clip_classes

    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "esc50.csv").write_text(
        "filename,fold,target,category\n5-1-A-0.wav,5,0,dog\n5-9-A-9.wav,5,9,crow\n"
    )
    labels = tmp_path / "labels.txt"
    labels.write_text("'rain' => 0\n'dog' => 1\n================\n'starting_index' => 0\n")
    assert esc50_clip_classes(str(tmp_path), ["5-1-A-0"], str(labels)) == [1]
    with pytest.raises(ValueError, match="no class 'crow'"):
        esc50_clip_classes(str(tmp_path), ["5-9-A-9"], str(labels))
    with pytest.raises(ValueError, match="no clip '5-7-A-7'"):
        esc50_clip_classes(str(tmp_path), ["5-7-A-7"], str(labels))


def test_loudest_segment_is_the_window_of_highest_energy():
    from lmac_brain.data.mixing import loudest_segment

    torch.manual_seed(0)
    wav = torch.randn(3000) * torch.linspace(0.1, 1.0, 3000) ** 3
    wav[2000:2100] *= 20  # a burst: the loudest 500 samples must contain it
    energies = torch.stack([wav[i : i + 500].double().pow(2).sum() for i in range(3000 - 500 + 1)])
    start = int(energies.argmax())
    assert torch.equal(loudest_segment(wav, 500), wav[start : start + 500])
    assert torch.equal(loudest_segment(wav[:300], 500)[300:], torch.zeros(200))  # shorter: zero-padded


@pytest.mark.slow
def test_pointing_analysis_script_reports_every_ranking(tmp_path, noise_folder, tiny_interpreter_folder, repo_root):
    """``recipes/ESC50/interpret/pointing_analysis.py`` on a small ESC-50-like fold: one row per ranking,
    counts that add up, and the Energy row equal to the pointing game of ``log1p|X|`` itself."""
    import subprocess
    import sys

    audio, rng = tmp_path / "esc" / "audio", np.random.default_rng(0)
    audio.mkdir(parents=True)
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    for k, (target, category) in enumerate([(0, "dog"), (10, "rain"), (0, "dog")]):
        name = f"4-{100 + k}-A-{target}.flac"
        sf.write(str(audio / name), 0.3 * rng.standard_normal(24000), 16000)
        rows.append(f"{name},4,{target},{category},False,{100 + k},A")
    (tmp_path / "esc" / "meta").mkdir()
    (tmp_path / "esc" / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            str(repo_root / "recipes/ESC50/interpret/pointing_analysis.py"),
            str(tiny_interpreter_folder),
            "--data_folder",
            str(tmp_path / "esc"),
            "--noise_folder",
            str(noise_folder),
        ],
        capture_output=True,
        text=True,
        timeout=HANG_S,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert out.startswith("3 fold-4 mixtures") and out.count("| M") == 6
    hits = int(out.split("hits of the interpreter's ranking (rank_power None): ")[1].split(";")[0])
    misses = int(out.split("misses of the interpreter's ranking (rank_power None): ")[1].split(";")[0])
    assert hits + misses == 3
    # the Energy row is the pointing game of log1p|X| on the same items
    from lmac_brain.data.files import list_audio_files

    clips = [(p.stem, str(p)) for p in sorted(audio.glob("*.flac"))]
    loc = LocalizationSet(
        clips, list_audio_files(str(noise_folder), kind="noise"), 16000, event_s=1.0, seed=1234, targets=[0, 1, 0]
    )
    fe = Frontend()
    energy = []
    for item in loc:
        logmag = fe.log_magnitude(item[1].unsqueeze(0))
        energy += pointing_game(logmag, [span_frames(*item[3], fe.hop_length, logmag.shape[1])]).tolist()
    import re

    energy_row = re.search(r"^\| M\*\*0 \* log1p\\\|X\\\| \| ([0-9.]+) \|", out, re.MULTILINE)
    assert energy_row is not None, out
    assert float(energy_row.group(1)) == pytest.approx(100 * sum(energy) / 3, abs=0.05)
