#!/usr/bin/env python3
"""Seconds per explained 5 s clip: L-MAC vs one classifier forward vs each baseline, one process.

Everything runs on the same classifier (the interpreter folder's, ``--source``: the shipped CPU CNN14 by
default, or an EncoderClassifier interpreter such as an ECAPA-TDNN's, whose forward is then its own features
and encoder; or a random CNN14 of the shipped width with --random) and the same random clips; each method is
timed ``--repeats`` times at each batch size, the methods taking turns (one round of all methods per repeat,
after a warm-up round), and the median is reported, with its ratio to one classifier forward (the median
over rounds of the ratio within a round, with its interquartile range from 4 repeats on) and L-MAC's
speed-up. Grad-CAM needs CNN14's last convolution block and is left out for an EncoderClassifier.

With ``--conditional FOLDER`` (an exported interpreter with a class-conditional decoder on the same
classifier) it also times that decoder: the decision, another class (one pass, against the paper
decoder's 30 refinement steps), and ``LMACInterpreter.interpret_batch`` with ``top_k=5`` against a
single explanation (what ``lmac explain --top-k 5`` does per file, without writing files), and prints
the two ratios. The refinement entries always refine (30 steps from the ``--source`` decoder's mask,
``refine=True``), also when that decoder is conditional (the shipped one is: ``--conditional
pretrained/lmac_cnn14_cpu_esc50``).

Two entries time L-MAC computed the ways explaining no longer takes (choose them with ``--methods``): "L-MAC,
mask through its logits" (the sigmoid of the decoder's logits, whose time gate costs a softplus over every
bin, instead of the product of the two factors' sigmoids, ``gated_mask``) and "L-MAC, decoder in one pass"
(the whole batch at once instead of passes of at most ``PASS_BYTES`` of ``T x n_mels`` features).

Usage:
    python bench/explain_time.py [--source pretrained/lmac_cnn14_cpu_esc50] [--batch 1 16] [--repeats 3]
        [--conditional pretrained/lmac_cnn14_cpu_esc50]
"""

import argparse
import statistics
import time
from unittest import mock

import torch

from lmac_brain.explain import baselines as bl
from lmac_brain.explain.refine import targeted_masks
from lmac_brain.models import passes
from lmac_brain.models.encoder_classifier import EncoderAudioClassifier
from lmac_brain.models.sources import SourceNotFoundError, check_source


def load(source, random_weights):
    """The interpreter folder's ``LMAC`` module (CNN14 or EncoderClassifier); random weights: CNN14 folders."""
    if random_weights:
        from hyperpyyaml import load_hyperpyyaml

        with open(f"{source}/hyperparams.yaml", encoding="utf-8") as f:
            return load_hyperpyyaml(f, {"pretrained_path": source})["lmac"].eval()
    from lmac_brain.interface.interpreter import LMACInterpreter

    return LMACInterpreter.from_hparams(source=source).mods.lmac.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default="pretrained/lmac_cnn14_cpu_esc50")
    parser.add_argument("--random", action="store_true", help="random weights (timing does not depend on them)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--conditional", default=None, help="an interpreter folder with a class-conditional decoder")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="time only these methods (names as printed; the classifier forward, L-MAC and the "
        "--conditional entries always run)",
    )
    args = parser.parse_args()
    for option, value in (("--source", args.source), ("--conditional", args.conditional)):
        if value is not None:
            try:  # a mistyped path stops here with its name (lmac_brain.models.sources)
                check_source(value, "interpreter folder", option=option)
            except SourceNotFoundError as err:
                parser.error(str(err))
    lmac = load(args.source, args.random)
    fe, clf = lmac.frontend, lmac.classifier

    def refined(w, target):  # the test-time refinement, also from a conditional decoder's mask
        return targeted_masks(lmac, w, target, refine=True)["mask"]

    @torch.no_grad()
    def through_logits(w):  # the mask as the sigmoid of the decoder's logits (its gate's softplus included)
        logmag = fe.log_magnitude(w)
        logits, reps = lmac.classify(logmag)
        return lmac.to_mask(lmac.mask_logits(reps, logmag, logits.argmax(-1)))

    def one_pass(w):  # the decoder on the whole batch at once, however large its T x n_mels features
        with mock.patch.object(passes, "PASS_BYTES", 2**62):
            return lmac.explain(w)

    def next_class(w):  # the class after the decision, in index order
        logits = clf(fe.wav_to_features(w))[0]
        return (logits.argmax(-1) + 1) % logits.shape[-1]

    methods = {
        "classifier forward": lambda w: clf(fe.wav_to_features(w)),
        "L-MAC": lmac.explain,
        "L-MAC, mask through its logits": through_logits,
        "L-MAC, decoder in one pass": one_pass,
        "L-MAC, other class (30 refinement steps)": lambda w: refined(w, next_class(w)),
        "Saliency": bl.Saliency(fe, clf).explain,
        "GradCAM": bl.GradCAM(fe, clf).explain,
        "SmoothGrad-50": bl.SmoothGrad(fe, clf, n_samples=50).explain,
        "IG-200": bl.IntegratedGradients(fe, clf, n_steps=200).explain,
        "GradientSHAP-50": bl.GradientSHAP(fe, clf, n_samples=50).explain,
        "RISE-256": bl.RISE(fe, clf, n_masks=256).explain,
    }
    if isinstance(clf, EncoderAudioClassifier):  # Grad-CAM needs CNN14's last convolution block
        del methods["GradCAM"]
    if args.conditional:
        from lmac_brain.interface.interpreter import LMACInterpreter

        interp = LMACInterpreter.from_hparams(source=args.conditional)
        cond = interp.mods.lmac.eval()
        if not cond.conditional:
            parser.error(f"{args.conditional} holds an unconditional decoder")

        def second(w):
            return clf(fe.wav_to_features(w))[0].topk(2, dim=-1).indices[:, 1]

        methods.update(
            {
                "L-MAC conditional": cond.explain,
                "L-MAC conditional, other class (one pass)": lambda w: cond.explain(w, target=second(w)),
                "L-MAC, 2nd class (30 refinement steps)": lambda w: refined(w, second(w)),
                "interpreter, conditional": interp.interpret_batch,
                "interpreter, conditional, top-5": lambda w: interp.interpret_batch(w, top_k=5),
            }
        )
    if args.methods is not None:
        unknown = set(args.methods) - set(methods)
        if unknown:
            parser.error(f"unknown methods {sorted(unknown)}; choose from {sorted(methods)}")
        always = (
            "classifier forward",
            "L-MAC",
            "L-MAC conditional",
            "L-MAC conditional, other class (one pass)",
            "L-MAC, 2nd class (30 refinement steps)",
            "interpreter, conditional",
            "interpreter, conditional, top-5",
        )
        methods = {k: v for k, v in methods.items() if k in always or k in args.methods}
    print(f"{torch.get_num_threads()} threads, {args.seconds} s clips, median of {args.repeats}")
    print("| method | batch | s per clip | x classifier forward [IQR] | L-MAC speed-up |")
    print("|---|---|---|---|---|")
    for batch in args.batch:
        wavs = torch.randn(batch, int(args.seconds * fe.sample_rate)) * 0.1
        times = {name: [] for name in methods}
        for rep in range(args.repeats + 1):  # round-robin, so that a slow spell of the machine hits every method
            for name, fn in methods.items():
                with torch.no_grad() if name == "classifier forward" else torch.enable_grad():
                    start = time.perf_counter()
                    fn(wavs)
                    if rep:  # the first round warms up
                        times[name].append(time.perf_counter() - start)
        per_clip = {name: statistics.median(t) / batch for name, t in times.items()}
        for name, sec in per_clip.items():
            # the ratio to the forward is taken within each round (the two ran seconds apart), then the median
            ratios = [t / f for t, f in zip(times[name], times["classifier forward"])]
            spread = ""
            if len(ratios) >= 4:
                q1, _, q3 = statistics.quantiles(ratios, n=4)
                spread = f" [{q1:.2f}, {q3:.2f}]"
            print(
                f"| {name} | {batch} | {sec:.4f} | {statistics.median(ratios):.2f}{spread} "
                f"| {sec / per_clip['L-MAC']:.1f}x |"
            )
        if args.conditional:
            ratio = (
                per_clip["L-MAC, 2nd class (30 refinement steps)"]
                / per_clip["L-MAC conditional, other class (one pass)"]
            )
            top5 = per_clip["interpreter, conditional, top-5"] / per_clip["interpreter, conditional"]
            print(
                f"\nbatch {batch}: another class, refinement / conditional one pass: {ratio:.1f}x (target >= 20x); "
                f"interpreter top-5 / single: {top5:.2f}x (target <= 2x)\n"
            )


if __name__ == "__main__":
    main()
