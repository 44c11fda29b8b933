#!/usr/bin/env python3
"""A long recording with known events: ESC-50 test clips end to end, explained as ``lmac explain`` does.

    python recipes/ESC50/interpret/long_events.py --data_folder ../shared/data/esc50-16k \\
        [--fold 5] [--n_clips 120] [--source pretrained/lmac_cnn14_cpu_esc50] [--window_s 10] \\
        [--output_folder results/long_events]

The first ``n_clips`` clips of the fold, round-robin over the classes (so neighbours differ), are written
end to end (``long.flac``, ``events.csv``) and explained as a timeline (``timeline/``: the outputs of ``lmac
explain long.flac``, report included). Then, per event (clip):

* ``Timeline acc (%)``: the timeline's class at the clip's centre against the clip's label, and ``Alone acc
  (%)``: the classifier's decision on the clip by itself, which bounds it;
* ``Listen@0.1``, ``Listen@0.2``: the listening round trip of the clip's stretch of the recording (as the
  timeline hears it): the top 10% / 20% of an explanation's bins made audio and classified again, the
  probability of the class decided on the stretch; for L-MAC (its window's explanation: the stretch is
  explained as one window, for its decision) and the floors Energy and Random.

Writes ``results.csv`` (one row per method and event), ``summary.md`` (mean and 95% t interval per method)
and prints it with the paired ratios of L-MAC's listening to the floors' (bootstrap 95% intervals).

Authors
 * lmac_brain contributors 2026
"""

import argparse
import csv
import json
import os
import sys
import time

import torch

from lmac_brain.data.audio import load_audio
from lmac_brain.data.esc50 import read_esc50_meta
from lmac_brain.evaluation.evalsets import class_balanced
from lmac_brain.evaluation.evaluate import listening_rows
from lmac_brain.evaluation.long_events import clip_paths, event_decisions, event_items, write_event_recording
from lmac_brain.evaluation.paired import paired_differences, paired_markdown
from lmac_brain.evaluation.scoring import scoring_model
from lmac_brain.evaluation.tables import markdown, summarize
from lmac_brain.explain.floors import Energy, Random
from lmac_brain.interface.interpreter import LMACInterpreter
from lmac_brain.interface.listening_page import write_report
from lmac_brain.interface.streaming import recording_reader
from lmac_brain.interface.timeline_outputs import write_timeline


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_folder", required=True, help="ESC-50 folder (meta/esc50.csv, audio/)")
    parser.add_argument("--fold", type=int, default=5)
    parser.add_argument("--n_clips", type=int, default=120)
    parser.add_argument("--source", default="pretrained/lmac_cnn14_cpu_esc50", help="interpreter folder or hub id")
    parser.add_argument("--window_s", type=float, default=10.0)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--output_folder", default="results/long_events")
    args = parser.parse_args(argv)

    rows = [r for r in sorted(read_esc50_meta(args.data_folder), key=lambda r: r["filename"]) if r["fold"] == args.fold]
    if not rows:
        parser.exit(2, f"error: {args.data_folder} has no clip in fold {args.fold}.\n")
    interp = LMACInterpreter.from_hparams(source=args.source)
    rate, fe, lmac = interp.hparams.sample_rate, interp.mods.lmac.frontend, interp.mods.lmac
    clips = clip_paths(args.data_folder, class_balanced(rows, args.n_clips))
    os.makedirs(args.output_folder, exist_ok=True)
    recording = os.path.join(args.output_folder, "long.flac")
    events = write_event_recording(clips, recording, rate)
    with open(os.path.join(args.output_folder, "events.csv"), "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(
            [("item", "start_s", "end_s", "label")] + [(e.item, e.start / rate, e.end / rate, e.label) for e in events]
        )
    print(f"{len(events)} clips, {events[-1].end / rate / 60:.1f} min: {recording}")

    timeline = os.path.join(args.output_folder, "timeline")
    os.makedirs(timeline, exist_ok=True)
    start = time.perf_counter()
    files = write_timeline(timeline, "long", recording, interp, window_s=args.window_s)
    print(f"timeline in {time.perf_counter() - start:.1f} s; report: {write_report(timeline)}")
    with open(files[-1], encoding="utf-8") as f:
        record = json.load(f)
    score = scoring_model(fe, lmac.classifier)
    with torch.no_grad():
        alone = [
            interp.class_names[
                int(score(fe.log_magnitude(interp.normalize(load_audio(path, rate)).unsqueeze(0))).argmax())
            ]
            for _, path, _ in clips
        ]
    results = event_decisions(events, record["segments"], alone, rate)
    _, read = recording_reader(interp, recording)
    items = event_items(events, read)
    for name, explainer in (("L-MAC", lmac), ("Energy", Energy(fe)), ("Random", Random(fe))):
        results += listening_rows(
            name, explainer, "events", items, fe, lmac.classifier, lmac.mask_domain, args.batch_size, scorer=score
        )
    keys = sorted({k for r in results for k in r})
    with open(os.path.join(args.output_folder, "results.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(results)
    table = markdown(
        summarize(results), header=f"{len(events)} events of fold {args.fold}, {args.window_s:g} s windows"
    )
    for floor in ("Energy", "Random"):
        table += "\n" + paired_markdown(
            paired_differences(results, results, "L-MAC", floor, metrics=["Listen@0.1", "Listen@0.2"]), "L-MAC", floor
        )
    with open(os.path.join(args.output_folder, "summary.md"), "w", encoding="utf-8") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main(sys.argv[1:])
