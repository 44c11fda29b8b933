"""The report page of ``lmac explain``: content, self-containment, and a real headless browser.

The browser test needs Debian's Chromium and ChromeDriver (``apt-get install chromium chromium-driver``)
and selenium; it skips without them, unless ``LMAC_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which
installs them) turns the skip into a failure.
"""

import os
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from lmac_brain.interface.cli import main
from lmac_brain.interface.listening_page import read_records, write_report

pytestmark = pytest.mark.slow  # explains with the CLI for every test; a real headless browser

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def explained(tmp_path, tiny_interpreter_folder):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    sf.write(str(inputs / "tone.wav"), 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
    sf.write(str(inputs / "noise <&>.flac"), 0.1 * rng.standard_normal(24000), 16000)  # odd characters in the name
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(inputs),
            "--out",
            str(out),
            "--source",
            str(tiny_interpreter_folder),
            "--savedir",
            str(tmp_path / "cache"),
            "--top-k",
            "2",
        ]
    )
    assert code == 0
    return out


def test_report_is_self_contained_and_lists_every_explanation(explained):
    page = (explained / "report.html").read_text(encoding="utf-8")
    records = read_records(str(explained))
    assert len(records) == 4  # 2 files x top-2
    assert page.count("<audio") == 3 * len(records) and page.count("<img") == len(records)
    assert page.count('src="data:audio/wav;base64,') == 3 * len(records)
    # nothing is fetched from outside the page (no relative or remote URLs)
    assert not re.search(r'(src|href)="(?!data:)', page)
    assert "noise &lt;&amp;&gt;" in page and "noise <&>" not in page


def test_report_rebuild_leaves_out_incomplete_items(explained):
    record = read_records(str(explained))[0]
    os.remove(explained / record["files"]["masked_out"])
    assert main(["report", str(explained)]) == 0
    page = (explained / "report.html").read_text(encoding="utf-8")
    assert page.count("<section") == 3 and "Left out (files missing)" in page


def test_report_of_a_missing_folder_is_a_clear_error(tmp_path, caplog):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "no such folder" in caplog.text
    assert "no explanations" in open(write_report(str(tmp_path)), encoding="utf-8").read()


def _browser():
    required = os.environ.get("LMAC_REQUIRE_BROWSER") == "1"
    reason = None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        reason = "selenium is not installed (pip install -e '.[test]')"
    if reason is None and not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        reason = "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
    if reason:
        if required:
            pytest.fail(f"LMAC_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        "--mute-audio",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_report_plays_in_a_real_headless_browser(explained):
    driver = _browser()
    try:
        driver.set_script_timeout(30)
        driver.get((explained / "report.html").as_uri())
        state = driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const audios = Array.from(document.querySelectorAll('audio'));
            const ready = a => new Promise(resolve => {
                if (a.readyState >= 1 || a.error) return resolve();
                a.addEventListener('loadedmetadata', resolve, {once: true});
                a.addEventListener('error', resolve, {once: true});
                a.load();
            });
            Promise.all(audios.map(ready)).then(async () => {
                const played = [];
                for (const a of audios) {
                    try { a.muted = true; await a.play(); played.push(true); a.pause(); }
                    catch (e) { played.push(String(e)); }
                }
                done({
                    audios: audios.map((a, i) => ({error: a.error ? a.error.code : null, duration: a.duration,
                                                    canPlay: a.canPlayType('audio/wav'), played: played[i]})),
                    images: Array.from(document.images).map(img => img.complete && img.naturalWidth > 0),
                    sections: document.querySelectorAll('section').length,
                });
            });
            """
        )
        logs = driver.get_log("browser")
    finally:
        driver.quit()
    assert state["sections"] == 4
    assert len(state["audios"]) == 12
    for audio in state["audios"]:
        assert audio["error"] is None and audio["canPlay"] in ("maybe", "probably"), audio
        assert audio["duration"] > 0.9 and audio["played"] is True, audio
    assert state["images"] and all(state["images"])
    assert [entry for entry in logs if entry["level"] == "SEVERE"] == []


def test_unknown_target_stops_before_any_output(tmp_path, tiny_interpreter_folder, caplog):
    sf.write(str(tmp_path / "x.wav"), np.zeros(8000), 16000)
    out = tmp_path / "out"
    code = main(
        [
            "explain",
            str(tmp_path / "x.wav"),
            "--out",
            str(out),
            "--source",
            str(tiny_interpreter_folder),
            "--savedir",
            str(tmp_path / "cache"),
            "--target",
            "dgo",
        ]
    )
    assert code == 2 and "Unknown target class 'dgo'. Did you mean: dog" in caplog.text
    assert not out.exists() or not any(out.iterdir())


def test_a_failing_write_removes_the_items_other_files(tmp_path, tiny_interpreter_folder, monkeypatch):
    import lmac_brain.interface.cli as cli

    sf.write(str(tmp_path / "x.wav"), np.zeros(8000), 16000)

    def broken_plot(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(cli, "plot_interpretation", broken_plot)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="disk full"):
        main(
            [
                "explain",
                str(tmp_path / "x.wav"),
                "--out",
                str(out),
                "--source",
                str(tiny_interpreter_folder),
                "--savedir",
                str(tmp_path / "cache"),
                "--target",
                "rain",
            ]
        )
    assert list(out.iterdir()) == []


@pytest.fixture
def timeline(tmp_path, tiny_interpreter_folder):
    """A 25 s recording explained as a timeline (windows of 10 s)."""
    rng = np.random.default_rng(1)
    t = np.arange(16000 * 25) / 16000
    wav = 0.3 * np.sin(2 * np.pi * np.where((t // 5) % 2 == 0, 440, 2000) * t) + 0.02 * rng.standard_normal(t.size)
    sf.write(str(tmp_path / "field.flac"), wav, 16000)
    out = tmp_path / "out"
    code = main(
        ["explain", str(tmp_path / "field.flac"), "--out", str(out), "--source", str(tiny_interpreter_folder)]
        + ["--savedir", str(tmp_path / "cache")]
    )
    assert code == 0
    return out


def test_a_timeline_report_links_its_audio_and_lists_the_segments(timeline):
    page = (timeline / "report.html").read_text(encoding="utf-8")
    (record,) = read_records(str(timeline))
    assert "data:audio" not in page and page.count("<img") == 1
    linked = re.findall(r'<audio[^>]* src="([^"]+)"', page)
    assert sorted(linked) == sorted(v for k, v in record["files"].items() if k != "figure")
    assert all((timeline / name).is_file() for name in linked)
    assert page.count("<button") == len(record["segments"]) > 0
    assert (timeline / "report.html").stat().st_size < 1_000_000


def test_a_timeline_report_plays_from_a_segment_in_a_real_headless_browser(timeline):
    driver = _browser()
    try:
        driver.set_script_timeout(30)
        driver.get((timeline / "report.html").as_uri())
        state = driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const buttons = Array.from(document.querySelectorAll('button'));
            const player = document.querySelector('audio[id$="-interpretation"]');
            player.muted = true;
            player.addEventListener('playing', () => {
                const at = player.currentTime;
                player.pause();
                done({at: at, duration: player.duration, error: player.error ? player.error.code : null,
                      image: document.images[0].complete && document.images[0].naturalWidth > 0});
            }, {once: true});
            buttons[buttons.length - 1].click();  // the last segment
            """
        )
        logs = driver.get_log("browser")
    finally:
        driver.quit()
    (record,) = read_records(str(timeline))
    assert state["error"] is None and state["image"] and abs(state["duration"] - 25.0) < 0.01
    assert abs(state["at"] - record["segments"][-1]["start_s"]) < 1.0
    assert [entry for entry in logs if entry["level"] == "SEVERE"] == []
