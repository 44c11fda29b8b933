#!/usr/bin/env python3
"""Generate the example clips shipped in examples/audio (synthetic, so free of any licence).

    python examples/make_examples.py

Three 5 s, 16 kHz mono clips built from simple synthesis recipes, each with a known structure to look
for in an explanation: a two-tone siren sweep over light noise, clock-like ticks, and a dog-bark-like
harmonic burst pattern over rain-like noise. They are deterministic (fixed seeds).
"""

import os

import numpy as np
import soundfile as sf

RATE = 16000
N = 5 * RATE


def siren(rng):
    t = np.arange(N) / RATE
    freq = 700 + 350 * np.sin(2 * np.pi * 0.5 * t)  # slow up-down sweep
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    return 0.6 * np.sin(phase) + 0.6 * 0.3 * np.sin(2 * phase) + 0.02 * rng.standard_normal(N)


def clock_ticks(rng):
    x = 0.003 * rng.standard_normal(N)
    click = np.exp(-np.arange(400) / 40.0) * np.sin(2 * np.pi * 2500 * np.arange(400) / RATE)
    for k, start in enumerate(range(2000, N - 400, RATE // 2)):
        x[start : start + 400] += (0.8 if k % 2 == 0 else 0.5) * click
    return x


def barks_in_rain(rng):
    rain = np.convolve(rng.standard_normal(N), np.ones(3) / 3, mode="same") * 0.05
    t = np.arange(int(0.25 * RATE)) / RATE
    f0 = 450 * (1 - 0.3 * t / t[-1])
    burst = sum(np.sin(2 * np.pi * h * np.cumsum(f0) / RATE) / h for h in range(1, 6)) * np.hanning(t.size)
    x = rain.copy()
    for start in (0.6, 1.0, 2.8, 3.2):
        i = int(start * RATE)
        x[i : i + burst.size] += 0.5 * burst
    return x


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audio")
    os.makedirs(out, exist_ok=True)
    for seed, (name, fn) in enumerate((("siren", siren), ("clock_ticks", clock_ticks), ("barks_in_rain", barks_in_rain))):
        x = fn(np.random.default_rng(seed))
        sf.write(os.path.join(out, f"{name}.wav"), (x / np.abs(x).max() * 0.9).astype(np.float32), RATE, subtype="PCM_16")
        print(os.path.join(out, f"{name}.wav"))


if __name__ == "__main__":
    main()
