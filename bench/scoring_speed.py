#!/usr/bin/env python3
"""Scoring benchmark: eager vs compiled classifier on masked spectrograms (``eval.py --compile_scorer``).

The matched-budget evaluation spends most of its time classifying masked ``log1p|X|`` (25 passes per
clip and method). This script times the eager :class:`~lmac_brain.explain.baselines.SpectrogramClassifier`
and the compiled one of :func:`lmac_brain.evaluation.scoring.scoring_model` in this one process, alternating,
on the same batch of 5 s inputs, after the compilation (whose cost it prints separately), and prints
the largest difference of their logits. With several ``--batch`` sizes it times both models at each size,
interleaved in the same rounds, and prints each compiled size's time relative to the fastest: the
evidence for the chunk of masked inputs per classifier call in
:func:`lmac_brain.evaluation.budget.budget_curves`.

Usage:
    python bench/scoring_speed.py [--width 0.25] [--batch 8 32] [--repeats 5]
"""

import argparse
import statistics
import time

import torch

from lmac_brain.evaluation.scoring import scoring_model
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.frontend import Frontend


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 32], help="inputs per classifier call")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    emb_dim = int(2048 * args.width)
    classifier = AudioClassifier(Cnn14(80, emb_dim, args.width, return_reps=True), torch.nn.Linear(emb_dim, 50)).eval()
    frontend = Frontend()
    logmag = {b: frontend.log_magnitude(torch.randn(b, int(args.seconds * 16000)) * 0.1) for b in args.batch}
    eager = scoring_model(frontend, classifier)
    start = time.perf_counter()
    compiled = scoring_model(frontend, classifier, compile=True)
    with torch.no_grad():
        diff = max(float((compiled(x) - eager(x)).abs().max()) for x in logmag.values())
    print(f"compilation (first call of each size): {time.perf_counter() - start:.1f} s")
    times = {(name, b): [] for b in args.batch for name in ("eager", "compiled")}
    for _ in range(args.repeats):
        for name, b in times:
            model = eager if name == "eager" else compiled
            start = time.perf_counter()
            with torch.no_grad():
                model(logmag[b])
            times[name, b].append((time.perf_counter() - start) / b * 1000)
    med = {key: statistics.median(values) for key, values in times.items()}
    print(f"width {args.width}, {args.seconds} s inputs, {torch.get_num_threads()} threads, median of {args.repeats}")
    fastest = min(med["compiled", b] for b in args.batch)
    for b in args.batch:
        print(
            f"batch {b:3d}: eager {med['eager', b]:.1f} ms per input, compiled {med['compiled', b]:.1f} ms "
            f"({med['eager', b] / med['compiled', b]:.2f}x faster than eager; {med['compiled', b] / fastest:.2f}x "
            "the fastest compiled batch)"
        )
    print(f"max |logit difference| compiled vs eager: {diff:.2e}")


if __name__ == "__main__":
    main()
