#!/usr/bin/env python3
"""Decoder training-step benchmark: our LMACDecoder vs SpeechBrain's CNN14PSI_stft, same classifier.

Both decoders sit on the same frozen CNN14 (width and batch from the command line) and are timed in
this one process, alternating, on the same batch of 5 s clips. Two timings per decoder:

* ``full step``: one L-MAC training step (front end, classifier on input / masked-in / masked-out,
  loss, backward, Adam step) — what a training run pays;
* ``decoder only``: decoder forward + backward on fixed block outputs — the part that differs.

Usage:
    python bench/decoder_step.py [--width 0.25] [--batch 8] [--repeats 5]
"""

import argparse
import statistics
import time

import torch
from speechbrain.lobes.models.Cnn14 import CNN14PSI_stft

from lmac_brain.explain.lmac import LMAC
from lmac_brain.explain.objective import lmac_loss
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend
from lmac_brain.models.reference_decoder import ReferenceDecoder


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    emb_dim = int(2048 * args.width)
    embedding = Cnn14(80, emb_dim, args.width, return_reps=True)
    classifier = AudioClassifier(embedding, torch.nn.Linear(emb_dim, 50))
    frontend = Frontend()
    decoders = {
        "ours (LMACDecoder)": LMACDecoder(rep_channels(embedding)),
        "SpeechBrain CNN14PSI_stft": ReferenceDecoder(CNN14PSI_stft(dim=emb_dim)),
    }
    models = {name: LMAC(frontend, classifier, dec).train() for name, dec in decoders.items()}
    optims = {name: torch.optim.Adam(m.decoder.parameters(), 1e-4) for name, m in models.items()}
    wavs = torch.randn(args.batch, int(args.seconds * 16000)) * 0.1
    with torch.no_grad():
        logmag = frontend.log_magnitude(wavs)
        _, reps = classifier(frontend.features(logmag))

    def full_step(name):
        out = models[name](wavs)
        loss, _ = lmac_loss(out["logits_in"], out["logits_out"], out["logits"].argmax(-1), out["mask"])
        optims[name].zero_grad()
        loss.backward()
        optims[name].step()

    def decoder_only(name):
        decoders[name](reps, logmag).sigmoid().mean().backward()

    times = {(name, kind): [] for name in decoders for kind in ("full", "dec")}
    for name in decoders:  # warm-up
        full_step(name)
        decoder_only(name)
    for _ in range(args.repeats):
        for name in decoders:
            for kind, fn in (("full", full_step), ("dec", decoder_only)):
                start = time.perf_counter()
                fn(name)
                times[(name, kind)].append(time.perf_counter() - start)

    ours, ref = list(decoders)
    params = {name: sum(p.numel() for p in dec.parameters()) for name, dec in decoders.items()}
    print(
        f"CNN14 width {args.width} (emb {emb_dim}), batch {args.batch} x {args.seconds} s, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print("| decoder | params | full L-MAC step (s) | decoder fwd+bwd (s) |")
    print("|---|---|---|---|")
    for name in decoders:
        print(
            f"| {name} | {params[name] / 1e6:.3f} M | {statistics.median(times[(name, 'full')]):.3f} "
            f"| {statistics.median(times[(name, 'dec')]):.3f} |"
        )
    print(
        f"ratios (reference / ours): params {params[ref] / params[ours]:.1f}x, full step "
        f"{statistics.median(times[(ref, 'full')]) / statistics.median(times[(ours, 'full')]):.2f}x, decoder "
        f"{statistics.median(times[(ref, 'dec')]) / statistics.median(times[(ours, 'dec')]):.2f}x"
    )


if __name__ == "__main__":
    main()
