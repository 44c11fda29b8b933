#!/usr/bin/env python3
"""Where an interpreter's localization comes from: the pointing game under several rankings, and its misses.

    python recipes/ESC50/interpret/pointing_analysis.py INTERPRETER_FOLDER \\
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise [--fold 4]

Builds ``eval.py``'s localization set of one fold (every clip's loudest second at a seeded time over real
noise at 0 dB, explained for the event's class) and prints, for the interpreter's mask ``M``:

* pointing and matched IoU when bins are ranked by ``M**g * log1p|X|`` for g = 0 (Energy), 1, 2, 4, 8
  and by ``M`` alone, each split by whether the classifier heard the event (its decision is the class);
* the mask's time profile (mean over frequency, divided by its maximum) inside and outside the event's
  span, on the hits and on the misses of the interpreter's own ranking, and how far the misses are.

Authors
 * lmac_brain contributors 2026
"""

import argparse
import glob
import os
import sys
import tempfile

import torch

from lmac_brain.data.files import list_audio_files
from lmac_brain.evaluation.evalsets import esc50_clip_classes
from lmac_brain.evaluation.localization import (
    LocalizationSet,
    matched_time_iou,
    pointing_game,
    span_frames,
    time_profile,
)
from lmac_brain.interface.interpreter import LMACInterpreter
from lmac_brain.models.sources import SourceNotFoundError, check_source

POWERS = (0.0, 1.0, 2.0, 4.0, 8.0, None)  # None: the mask alone


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("interpreter", help="an interpreter folder (e.g. pretrained/lmac_cnn14_cpu_esc50)")
    parser.add_argument("--data_folder", required=True, help="ESC-50 (audio/ and meta/esc50.csv)")
    parser.add_argument("--noise_folder", required=True, help="the background noise recordings")
    parser.add_argument("--fold", type=int, default=4, help="the fold whose clips are placed (default 4, development)")
    parser.add_argument("--seed", type=int, default=1234, help="the localization set's seed (eval.py's default)")
    args = parser.parse_args(argv)
    try:  # a mistyped path stops here with its name (lmac_brain.models.sources)
        check_source(args.interpreter, "interpreter folder", option="the interpreter argument")
    except SourceNotFoundError as err:
        parser.error(str(err))
    paths = sorted(glob.glob(os.path.join(args.data_folder, "audio", f"{args.fold}-*.*")))
    if not paths:
        parser.exit(2, f"error: no fold-{args.fold} clips in {args.data_folder}/audio.\n")
    with tempfile.TemporaryDirectory() as cache:
        interp = LMACInterpreter.from_hparams(source=args.interpreter, savedir=cache)
    lmac = interp.mods.lmac.eval()
    clips = [(os.path.splitext(os.path.basename(p))[0], p) for p in paths]
    targets = esc50_clip_classes(
        args.data_folder, [c for c, _ in clips], os.path.join(args.interpreter, "label_encoder.txt")
    )
    loc = LocalizationSet(
        clips,
        list_audio_files(args.noise_folder, kind="noise"),
        lmac.frontend.sample_rate,
        event_s=1.0,
        snr_db=0.0,
        seed=args.seed,
        targets=targets,
    )
    hits = {g: [] for g in POWERS}
    ious = {g: [] for g in POWERS}
    heard, inside, outside, distance = [], [], [], []
    for start in range(0, len(loc), 16):
        items = [loc[i] for i in range(start, min(start + 16, len(loc)))]
        wavs = torch.stack([it[1] for it in items])
        classes = torch.tensor([it[4] for it in items])
        with torch.no_grad():
            out = lmac.mask_of(wavs, classes)
        mask, logmag = out["mask"], out["logmag"]
        heard += (out["logits"].argmax(dim=-1) == classes).tolist()
        spans = [span_frames(*it[3], lmac.frontend.hop_length, mask.shape[1]) for it in items]
        for g in POWERS:
            scores = mask if g is None else mask.pow(g) * logmag
            hits[g] += pointing_game(scores, spans).tolist()
            ious[g] += matched_time_iou(scores, spans).tolist()
        profile, peaks = time_profile(mask), time_profile(lmac.rank_scores(mask, logmag)).argmax(dim=1)
        for b, (first, last) in enumerate(spans):
            outside_frames = torch.cat([profile[b, :first], profile[b, last:]])
            inside.append(float(profile[b, first:last].mean()))
            outside.append(float(outside_frames.mean()))
            peak = int(peaks[b])
            distance.append(0 if first <= peak < last else (first - peak if peak < first else peak - last + 1))
    heard = torch.tensor(heard)
    print(f"{len(heard)} fold-{args.fold} mixtures, the classifier heard the event in {int(heard.sum())}")
    print("| ranking | Pointing (%) | heard / not heard (%) | IoU (matched) |\n|---|---|---|---|")
    for g in POWERS:
        hit = torch.tensor(hits[g])
        name = "M" if g is None else f"M**{g:g} * log1p\\|X\\|"  # pipes escaped for the Markdown table
        print(
            f"| {name} | {100 * hit.mean():.1f} | {100 * hit[heard].mean():.1f} / {100 * hit[~heard].mean():.1f} "
            f"| {torch.tensor(ious[g]).mean():.3f} |"
        )
    distance, inside, outside = torch.tensor(distance), torch.tensor(inside), torch.tensor(outside)
    own = f"the interpreter's ranking (rank_power {lmac.rank_power})"
    for name, chosen in (("hits", distance == 0), ("misses", distance > 0)):
        print(
            f"{name} of {own}: {int(chosen.sum())}; mask time profile inside / outside the span "
            f"{inside[chosen].mean():.2f} / {outside[chosen].mean():.2f}"
        )
    missed = distance[distance > 0]
    if missed.numel():
        print(f"misses: median distance {int(missed.median())} frames, {int((missed <= 20).sum())} within 20 frames")


if __name__ == "__main__":
    main(sys.argv[1:])
