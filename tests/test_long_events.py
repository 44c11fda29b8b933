"""recipes/ESC50/interpret/long_events.py on the tiny ESC-50 folder: the recording, its timeline and the tables."""

import csv
import importlib.util

import soundfile as sf


def test_long_events_writes_the_recording_timeline_and_tables(tiny_esc50, tiny_interpreter_folder, repo_root, tmp_path):
    spec = importlib.util.spec_from_file_location("long_events", repo_root / "recipes/ESC50/interpret/long_events.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "events"
    script.main(
        ["--data_folder", str(tiny_esc50), "--fold", "5", "--n_clips", "2", "--source", str(tiny_interpreter_folder)]
        + ["--window_s", "1", "--output_folder", str(out)]
    )
    with open(out / "events.csv", encoding="utf-8") as f:
        events = list(csv.DictReader(f))
    assert len(events) == 2 and float(events[1]["start_s"]) == float(events[0]["end_s"])
    assert abs(sf.info(str(out / "long.flac")).duration - float(events[1]["end_s"])) < 1e-3
    assert (out / "timeline" / "long.json").is_file() and (out / "timeline" / "report.html").is_file()
    with open(out / "results.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted({r["method"] for r in rows}) == ["Energy", "L-MAC", "Random", "timeline"]
    assert all(0 <= float(r["Listen@0.1"]) <= 1 for r in rows if r["method"] != "timeline")
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "Timeline acc (%)" in summary and "L-MAC / Energy" in summary
