"""``lmac`` command line: explain audio files with a trained L-MAC interpreter.

    lmac explain FILE_OR_DIR [...] --out explanations/ [--source FOLDER_OR_HUB_ID]
                 [--target CLASS | --top-k K] [--budget Q] [--refine]
    lmac report explanations/

For each input file ``lmac explain`` writes ``<name>_input.wav`` (the input as the classifier hears
it: mono, resampled, with the interpreter's input normalisation), ``<name>_interpretation.wav``
(what the classifier listened to), ``<name>_masked_out.wav`` (what the mask removed), ``<name>.png``
(spectrogram, mask, masked spectrogram, class probabilities) and ``<name>.json`` (decision, explained
class, windows), then one self-contained ``report.html`` for the whole folder
(:mod:`lmac_brain.interface.listening_page`). With ``--target`` the name is ``<file>_why_<class>``; with
``--top-k`` ``<file>_top<r>_<class>``. ``--budget 0.1`` makes every mask binary, keeping the top 10% of the
time-frequency bins (the JSON and the page say so). A file longer than one window (10 s) gets a timeline
instead, streamed in bounded memory (:mod:`lmac_brain.interface.timeline_outputs`: the same three wavs,
``<name>_class_<class>.flac`` per decided class, the decision-track figure and the segments in the JSON),
unless ``--top-k`` or ``--budget`` is given, which explain it whole. Folders are searched
recursively for audio files. A file that cannot be read is reported by name and skipped; nothing is
half-written (atomic writes, and an item's files are removed if one of them fails), and existing outputs
are kept unless ``--overwrite`` is given. ``lmac report DIR`` rebuilds the page. Without ``--source``
the shipped model is used (:func:`shipped_model_folder`); explaining never imports Captum.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import List, Optional

from tqdm import tqdm

from lmac_brain.atomic import all_or_none, write_text
from lmac_brain.data.audio import AudioLoadError, load_audio
from lmac_brain.data.audio_stream import AudioStream
from lmac_brain.data.files import list_audio_files
from lmac_brain.explain.figure import plot_interpretation
from lmac_brain.explain.listen import write_wav
from lmac_brain.interface.listening_page import RECORD_SUFFIX, REPORT_NAME, write_report
from lmac_brain.interface.timeline_outputs import write_timeline
from lmac_brain.models.sources import SourceNotFoundError, check_source

logger = logging.getLogger(__name__)

OUTPUTS = {
    "input": "_input.wav",
    "interpretation": "_interpretation.wav",
    "masked_out": "_masked_out.wav",
    "figure": ".png",
}

SHIPPED_MODEL = "lmac_cnn14_cpu_esc50"


def shipped_model_folder() -> str:
    """Folder of the shipped interpreter: the installed copy, else the checkout's ``pretrained/`` folder.

    A wheel (``pip install .``) carries it as package data in ``lmac_brain/pretrained/`` (see
    ``setup.py``); in a checkout (and an editable install) it is ``pretrained/lmac_cnn14_cpu_esc50``.

    Example
    -------
    >>> os.path.basename(shipped_model_folder())
    'lmac_cnn14_cpu_esc50'
    """
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # lmac_brain/
    packaged = os.path.join(package, "pretrained", SHIPPED_MODEL)
    if os.path.isdir(packaged):
        return packaged
    return os.path.join(os.path.dirname(package), "pretrained", SHIPPED_MODEL)


#: The default ``--source`` of ``lmac explain``.
DEFAULT_SOURCE = shipped_model_folder()


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


def _safe(name: str) -> str:
    """A class name as a file-name part.

    Example
    -------
    >>> _safe("dog/bark 2")
    'dog_bark_2'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def output_names(stem: str, explanation, rank: Optional[int], asked_target: bool, target: Optional[str] = None) -> str:
    """Base name of one explanation's outputs: ``stem``, ``stem_why_<class>`` or ``stem_top<r>_<class>`` (the class
    of ``explanation``, or ``target`` where there is none yet)."""
    explained = explanation.targets[0] if explanation is not None else target
    if rank is not None:
        return f"{stem}_top{rank}_{_safe(explained)}"
    if asked_target:
        return f"{stem}_why_{_safe(explained)}"
    return stem


def write_explanation(out_dir: str, name: str, source: str, explanation, interp) -> List[str]:
    """Write the input (as the classifier heard it), interpretation and masked-out wavs, PNG and JSON of one item.

    All or nothing: if any write fails, the files already written for this item are removed and the
    error is raised. The JSON record (what ``lmac report`` reads) is written last.
    """
    lmac = interp.mods.lmac
    fe = lmac.frontend
    encoder = interp.hparams.label_encoder
    files = {key: f"{name}{suffix}" for key, suffix in OUTPUTS.items()}
    with all_or_none([]) as written:
        wav = explanation.input[0]
        for key, audio in (
            ("input", wav),
            ("interpretation", explanation.interpretation[0]),
            ("masked_out", explanation.masked_out[0]),
        ):
            written.append(write_wav(os.path.join(out_dir, files[key]), audio, fe.sample_rate))
        probs = explanation.probs[0]
        top = probs.topk(min(5, probs.numel()))
        class_names = [encoder.decode_ndim(i) for i in range(probs.numel())]
        written.append(
            plot_interpretation(
                os.path.join(out_dir, files["figure"]),
                explanation.logmag[0],
                explanation.mask[0],
                lmac.apply_mask(explanation.logmag, explanation.mask)[0],
                fe.sample_rate,
                fe.hop_length,
                title=f"{name}: {explanation.labels[0]} ({float(probs.max()):.2f}); "
                f"mask explains {explanation.targets[0]}",
                class_names=class_names,
                probs=probs,
            )
        )
        record = {
            "lmac_explanation": 1,
            "name": name,
            "source": os.path.abspath(source),
            "duration_s": wav.shape[-1] / fe.sample_rate,
            "label": explanation.labels[0],
            "prob": float(probs.max()),
            "target": explanation.targets[0],
            "refined": bool(explanation.refined[0]),
            "top_classes": [[class_names[int(i)], float(v)] for v, i in zip(top.values, top.indices)],
            "segments": [vars(seg) for seg in explanation.segments[0]],
            "files": files,
            "budget": explanation.budget,
        }
        path = os.path.join(out_dir, f"{name}{RECORD_SUFFIX}")
        write_text(path, json.dumps(record, indent=2))
        written.append(path)
    return written


def explain_files(
    interp,
    files: List[str],
    out_dir: str,
    overwrite: bool = False,
    target: Optional[str] = None,
    top_k: Optional[int] = None,
    budget: Optional[float] = None,
    refine: Optional[bool] = None,
    window_s: float = 10.0,
) -> int:
    """Explain each file and write its outputs; returns the number of files that failed (reported, skipped).

    A file longer than ``window_s`` gets a timeline (:func:`~lmac_brain.interface.timeline_outputs.write_timeline`,
    streamed), except with ``top_k`` or ``budget``, which explain the whole file at once."""
    stems = [os.path.splitext(os.path.basename(path))[0] for path in files]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        raise ValueError(
            f"Several inputs are named {', '.join(clashes)} (in different folders); their outputs would overwrite "
            "each other. Explain them into different --out folders."
        )
    if target is not None:
        interp.class_index(target)  # an unknown class stops here, before any work
    os.makedirs(out_dir, exist_ok=True)
    failed = 0
    for path, stem in zip(tqdm(files, desc="explaining", unit="file"), stems):
        mine = re.compile(rf"{re.escape(stem)}(_top\d+_.+|_why_.+)?{re.escape(RECORD_SUFFIX)}")
        if not overwrite and any(mine.fullmatch(n) for n in os.listdir(out_dir)):
            logger.warning("%s: outputs exist in %s; skipped (use --overwrite to replace them)", path, out_dir)
            continue
        try:
            n_samples = AudioStream(path, interp.hparams.sample_rate).n_samples
            if n_samples > window_s * interp.hparams.sample_rate and top_k is None and budget is None:
                explained = None if target is None else interp.class_names[interp.class_index(target)]
                name = output_names(stem, None, None, target is not None, explained)
                write_timeline(out_dir, name, path, interp, explained, window_s, safe_name=_safe)
                continue
            wav = load_audio(path, interp.hparams.sample_rate, normalize=False)  # interpret_batch normalises
        except AudioLoadError as err:
            logger.error("%s", err)
            failed += 1
            continue
        out = interp.interpret_batch(wav.unsqueeze(0), target=target, top_k=top_k, budget=budget, refine=refine)
        ranked = list(enumerate(out, start=1)) if top_k else [(None, out)]
        for rank, explanation in ranked:
            write_explanation(
                out_dir, output_names(stem, explanation, rank, target is not None), path, explanation, interp
            )
    return failed


def _load(source: str, savedir: Optional[str]):
    """The interpreter, or None after logging why it cannot be loaded."""
    from lmac_brain.interface.interpreter import LMACInterpreter

    try:
        source = check_source(
            source,
            "interpreter folder",
            option="--source",
            hint="(The shipped model is installed with the package, "
            f"or is the checkout's pretrained/{SHIPPED_MODEL} folder.)",
        )
        return LMACInterpreter.from_hparams(source=source, savedir=savedir)
    except (SourceNotFoundError, ValueError) as err:  # mistyped path; damaged or mismatched folder; savedir in use
        logger.error("%s", err)
        return None


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``lmac`` console script."""
    parser = argparse.ArgumentParser(prog="lmac", description="Listenable explanations of an audio classifier (L-MAC).")
    sub = parser.add_subparsers(dest="command", required=True)
    explain = sub.add_parser("explain", help="explain audio files or folders")
    explain.add_argument("inputs", nargs="+", help="audio files or folders")
    explain.add_argument(
        "--source", default=DEFAULT_SOURCE, help="interpreter folder or hub id (default: the shipped model)"
    )
    explain.add_argument(
        "--savedir",
        default=None,
        help="folder to link the model's files into (default: none; never replaces files it did not create)",
    )
    explain.add_argument("--out", required=True, help="output folder")
    which = explain.add_mutually_exclusive_group()
    which.add_argument("--target", default=None, help="explain this class (name or index) instead of the decision")
    which.add_argument("--top-k", type=int, default=None, help="explain the k most probable classes of each file")
    explain.add_argument(
        "--budget",
        type=float,
        default=None,
        metavar="Q",
        help="keep only the top Q share of the time-frequency bins (e.g. 0.1: the 10%% that matters most) "
        "as a binary mask",
    )
    explain.add_argument(
        "--refine",
        action="store_true",
        default=None,
        help="refine the masks of classes other than the decision on the L-MAC objective (always done for a "
        "decoder that is not class-conditional; with a conditional one it starts from its mask)",
    )
    explain.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    explain.add_argument("--no-report", action="store_true", help=f"do not (re)write {REPORT_NAME}")
    report = sub.add_parser("report", help=f"(re)build {REPORT_NAME} of a folder of explanations")
    report.add_argument("folder", help="an --out folder of lmac explain")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    if args.command == "report":
        if not os.path.isdir(args.folder):
            logger.error("%s: no such folder (give the --out folder of lmac explain).", args.folder)
            return 2
        logger.info("wrote %s", write_report(args.folder))
        return 0
    try:
        files = collect_inputs(args.inputs)
    except (FileNotFoundError, ValueError) as err:
        logger.error("%s", err)
        return 2
    interp = _load(args.source, args.savedir)
    if interp is None:
        return 2
    try:
        failed = explain_files(
            interp, files, args.out, args.overwrite, args.target, args.top_k, args.budget, args.refine
        )
    except ValueError as err:  # unknown target, clashing names, bad top-k or budget
        logger.error("%s", err)
        return 2
    logger.info("explained %d of %d files into %s", len(files) - failed, len(files), args.out)
    if not args.no_report:
        logger.info("wrote %s", write_report(args.out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
