#!/usr/bin/env python3
"""Explain time and peak memory (RSS) of a long recording, as ``lmac explain`` streams it.

For each length a generated FLAC file (seeded noise with tones; content does not change the cost) is written
block by block; then a fresh process (so that its peak RSS is its own) loads the interpreter, warms up on
1 s, and explains the file as ``lmac explain`` does for a file longer than one window: a timeline, every
window for its own decision, streamed (:func:`lmac_brain.interface.timeline_outputs.write_timeline`: the
three wavs, each decided class's FLAC, the figure and the JSON record). Prints a Markdown table with
seconds, seconds per audio minute, peak RSS (the loaded model included) and the RSS added over the
loaded model, then the time-per-minute and added-RSS ratios of the longest length against the first.

Usage:
    python bench/long_input.py [--lengths 60 600 3600] [--source pretrained/lmac_cnn14_cpu_esc50]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def write_input(path: str, seconds: float, rate: int = 16000) -> None:
    """A FLAC file of ``seconds`` of noise with a tone switching on and off, written a minute at a time."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    n, block = int(seconds * rate), 60 * rate
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as f:
        for a in range(0, n, block):
            t = np.arange(a, min(a + block, n)) / rate
            tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 0.2 * t) > 0)
            f.write((0.1 * rng.standard_normal(t.size) + tone).astype(np.float32))


def child(path: str, source: str) -> dict:
    import torch

    from lmac_brain.interface.interpreter import LMACInterpreter
    from lmac_brain.interface.timeline_outputs import write_timeline

    interp = LMACInterpreter.from_hparams(source=source)
    interp.interpret_batch(torch.zeros(1, interp.hparams.sample_rate))  # warm-up
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        files = write_timeline(out, "long", path, interp)
        elapsed = time.perf_counter() - start
        with open(files[-1], encoding="utf-8") as f:
            record = json.load(f)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": record["duration_s"],
        "time_s": elapsed,
        "peak_rss_mb": peak_mb,
        "baseline_rss_mb": baseline_mb,
        "windows": len(record["windows"]),
        "segments": len(record["segments"]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=float, nargs="+", default=[60, 600, 3600])
    parser.add_argument("--source", default="pretrained/lmac_cnn14_cpu_esc50")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.source)))
        return
    from lmac_brain.models.sources import SourceNotFoundError, check_source

    try:  # a mistyped path stops here with its name, not in every child
        check_source(args.source, "interpreter folder", option="--source")
    except SourceNotFoundError as err:
        parser.error(str(err))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.lengths:
            path = os.path.join(tmp, f"input_{seconds:g}.flac")
            write_input(path, seconds)
            proc = subprocess.run(
                [sys.executable, __file__, "--child", path, "--source", args.source],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            os.remove(path)
    print(
        "| input | windows | segments | explain time (s) | s per audio minute | peak RSS (MiB) "
        "| RSS over loaded model (MiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seconds']:g} s | {r['windows']} | {r['segments']} | {r['time_s']:.2f} | "
            f"{60 * r['time_s'] / r['seconds']:.2f} | {r['peak_rss_mb']:.0f} | "
            f"{r['peak_rss_mb'] - r['baseline_rss_mb']:.0f} |"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        per_minute = (last["time_s"] / last["seconds"]) / (first["time_s"] / first["seconds"])
        added = (last["peak_rss_mb"] - last["baseline_rss_mb"]) / max(
            first["peak_rss_mb"] - first["baseline_rss_mb"], 1
        )
        print(
            f"\n{last['seconds']:g} s vs {first['seconds']:g} s: length x{last['seconds'] / first['seconds']:.0f}, "
            f"time per audio minute x{per_minute:.2f}, added RSS x{added:.2f}"
        )


if __name__ == "__main__":
    main()
