#!/usr/bin/env python3
"""Explain time and peak memory (RSS) against input length, with the shipped interpreter.

Each length runs in a fresh process (so its peak RSS is its own): it loads the interpreter, warms up
on 1 s, then explains one generated clip of that length (seeded noise with tones; content does not
change the cost) through ``LMACInterpreter.interpret_batch`` — windows of 10 s beyond 10 s, masks
overlap-added, listenable and masked-out audio rebuilt at full length. Prints a Markdown table with
seconds, seconds per audio minute, peak RSS and the RSS added over the loaded-model baseline, and the
time and memory ratios between the longest and a reference length (linear scaling: the ratio of the
lengths).

Usage:
    python bench/long_input.py [--lengths 1 5 60 600] [--source pretrained/lmac_cnn14_cpu_esc50]
"""

import argparse
import json
import resource
import subprocess
import sys
import time


def child(seconds: float, source: str) -> dict:
    import numpy as np
    import torch

    from lmac_brain.interface.interpreter import LMACInterpreter

    interp = LMACInterpreter.from_hparams(source=source)
    rate = interp.hparams.sample_rate
    interp.interpret_batch(torch.zeros(1, rate))  # warm-up
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rng = np.random.default_rng(0)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    wav = 0.1 * rng.standard_normal(n) + 0.3 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 0.2 * t) > 0)
    wav = torch.from_numpy(wav.astype(np.float32)).unsqueeze(0)
    start = time.perf_counter()
    out = interp.interpret_batch(wav)
    elapsed = time.perf_counter() - start
    assert out.interpretation.shape == wav.shape and bool(torch.isfinite(out.mask).all())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "time_s": elapsed,
        "peak_rss_mb": peak_mb,
        "baseline_rss_mb": baseline_mb,
        "windows": len(out.segments[0]),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=float, nargs="+", default=[1, 5, 60, 600])
    parser.add_argument("--source", default="pretrained/lmac_cnn14_cpu_esc50")
    parser.add_argument("--child", type=float, default=None, help=argparse.SUPPRESS)
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
    for seconds in args.lengths:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(seconds), "--source", args.source],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("| input | windows | explain time (s) | s per audio minute | peak RSS (MB) | RSS over loaded model (MB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seconds']:g} s | {r['windows']} | {r['time_s']:.2f} | {60 * r['time_s'] / r['seconds']:.2f} | "
            f"{r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - r['baseline_rss_mb']:.0f} |"
        )
    if len(rows) > 2:
        ref, last = rows[-2], rows[-1]
        added_rss = (last["peak_rss_mb"] - last["baseline_rss_mb"]) / max(
            ref["peak_rss_mb"] - ref["baseline_rss_mb"], 1
        )
        print(
            f"\n{last['seconds']:g} s vs {ref['seconds']:g} s: length x{last['seconds'] / ref['seconds']:.1f}, "
            f"time x{last['time_s'] / ref['time_s']:.2f}, added RSS "
            f"x{added_rss:.2f}"
        )


if __name__ == "__main__":
    main()
