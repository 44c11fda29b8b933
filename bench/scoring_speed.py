#!/usr/bin/env python3
"""Scoring benchmark: eager vs compiled classifier on masked spectrograms (``eval.py --compile_scorer``).

The matched-budget evaluation spends most of its time classifying masked ``log1p|X|`` (25 passes per
clip and method). This script times the eager :class:`~lmac_brain.explain.baselines.SpectrogramClassifier`
and the compiled one of :func:`lmac_brain.evaluation.evaluate.scoring_model` in this one process, alternating,
on the same batch of 5 s inputs, after the compilation (whose cost it prints separately), and prints
the largest difference of their logits.

Usage:
    python bench/scoring_speed.py [--width 0.25] [--batch 32] [--repeats 5]
"""

import argparse
import statistics
import time

import torch

from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.evaluation.evaluate import scoring_model
from lmac_brain.models.frontend import Frontend


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    emb_dim = int(2048 * args.width)
    classifier = AudioClassifier(Cnn14(80, emb_dim, args.width, return_reps=True), torch.nn.Linear(emb_dim, 50)).eval()
    frontend = Frontend()
    logmag, _ = frontend.log_magnitude_phase(torch.randn(args.batch, int(args.seconds * 16000)) * 0.1)
    eager = scoring_model(frontend, classifier)
    start = time.perf_counter()
    compiled = scoring_model(frontend, classifier, compile=True)
    with torch.no_grad():
        reference = eager(logmag)
        diff = float((compiled(logmag) - reference).abs().max())
    print(f"compilation (first call): {time.perf_counter() - start:.1f} s")
    times = {"eager": [], "compiled": []}
    for _ in range(args.repeats):
        for name, model in (("eager", eager), ("compiled", compiled)):
            start = time.perf_counter()
            with torch.no_grad():
                model(logmag)
            times[name].append((time.perf_counter() - start) / args.batch * 1000)
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"width {args.width}, batch {args.batch}, {args.seconds} s inputs, {torch.get_num_threads()} threads")
    for name, value in med.items():
        print(f"{name:>9}: {value:.1f} ms per input (median of {args.repeats})")
    print(f"speed-up compiled / eager: {med['eager'] / med['compiled']:.2f}x; max |logit difference| {diff:.2e}")


if __name__ == "__main__":
    main()
