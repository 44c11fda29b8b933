"""``lmac`` command line: explain audio files with a trained L-MAC interpreter.

    lmac explain FILE_OR_DIR [...] --source pretrained/lmac_cnn14_cpu_esc50 --out explanations/

For each input file it writes ``<name>_interpretation.wav`` (what the classifier listened to),
``<name>_masked_out.wav`` (what the mask removed) and ``<name>.png`` (spectrogram, mask, masked
spectrogram, class probabilities). Folders are searched recursively for audio files. A file that cannot
be read is reported by name and skipped; nothing is half-written (atomic writes), and existing outputs
are kept unless ``--overwrite`` is given.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

from tqdm import tqdm

from lmac_brain.audio import AudioLoadError
from lmac_brain.evalsets import list_audio_files
from lmac_brain.listen import plot_interpretation, write_wav

logger = logging.getLogger(__name__)

DEFAULT_SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained", "lmac_cnn14_cpu_esc50")


def collect_inputs(paths: List[str]) -> List[str]:
    """Files given directly plus audio files found (recursively) in given folders, in order.

    Example
    -------
    >>> collect_inputs(["/nonexistent.wav"])
    Traceback (most recent call last):
    ...
    FileNotFoundError: /nonexistent.wav: no such file or folder.
    """
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += list_audio_files(path)
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder.")
    return files


def explain_files(interp, files: List[str], out_dir: str, overwrite: bool = False) -> int:
    """Write wavs and a PNG per file; returns the number of files that failed (reported, skipped)."""
    lmac = interp.mods.lmac
    fe = lmac.frontend
    names = interp.hparams.label_encoder
    failed = 0
    for path in tqdm(files, desc="explaining", unit="file"):
        stem = os.path.splitext(os.path.basename(path))[0]
        targets = [os.path.join(out_dir, f"{stem}{s}") for s in ("_interpretation.wav", "_masked_out.wav", ".png")]
        if not overwrite and any(os.path.exists(t) for t in targets):
            logger.warning("%s: outputs exist in %s; skipped (use --overwrite to replace them)", path, out_dir)
            continue
        try:
            out = interp.interpret_file(path)
        except AudioLoadError as err:
            logger.error("%s", err)
            failed += 1
            continue
        write_wav(targets[0], out.interpretation[0], fe.sample_rate)
        write_wav(targets[1], out.masked_out[0], fe.sample_rate)
        plot_interpretation(
            targets[2], out.logmag[0], out.mask[0], lmac.apply_mask(out.logmag, out.mask)[0], fe.sample_rate,
            fe.hop_length,
            title=f"{stem}: {out.labels[0]} ({float(out.probs[0].max()):.2f})",
            class_names=[names.decode_ndim(i) for i in range(out.probs.shape[1])], probs=out.probs[0],
        )
    return failed


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``lmac`` console script."""
    parser = argparse.ArgumentParser(prog="lmac", description="Listenable explanations of an audio classifier (L-MAC).")
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser("explain", help="explain audio files or folders")
    explain.add_argument("inputs", nargs="+", help="audio files or folders")
    explain.add_argument("--source", default=DEFAULT_SOURCE, help="interpreter folder or hub id (default: the shipped model)")
    explain.add_argument("--savedir", default=None, help="cache folder for the fetched model")
    explain.add_argument("--out", required=True, help="output folder")
    explain.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    from lmac_brain.interface import LMACInterpreter

    try:
        files = collect_inputs(args.inputs)
    except (FileNotFoundError, ValueError) as err:
        logger.error("%s", err)
        return 2
    if (os.path.isabs(args.source) or args.source.startswith(".")) and not os.path.isdir(args.source):
        logger.error(
            "%s: interpreter folder not found (the shipped model is in the repository's pretrained/ folder, "
            "which an editable install `pip install -e .` uses); pass --source FOLDER_OR_HUB_ID.", args.source
        )
        return 2
    interp = LMACInterpreter.from_hparams(source=args.source, savedir=args.savedir)
    failed = explain_files(interp, files, args.out, args.overwrite)
    logger.info("explained %d of %d files into %s", len(files) - failed, len(files), args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
