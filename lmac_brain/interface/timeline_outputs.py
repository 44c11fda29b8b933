"""The outputs of a long recording's explanation, written as the stream goes: audio, per-class audio, timeline.

For a recording longer than one window, ``lmac explain`` writes (``<name>`` the file's stem):

* ``<name>_input.wav``, ``<name>_interpretation.wav``, ``<name>_masked_out.wav``: as for a short file, the
  input as the classifier heard it and what the mask lets through / removes, each window's mask explaining
  that window's decision (or ``--target``), written stretch by stretch;
* ``<name>_class_<class>.flac``, for every decided class (not with ``--target``): what the classifier
  listened to where it decided that class, silence elsewhere (FLAC: the silence costs almost nothing);
* ``<name>.png``: the decision track over the spectrogram and the mask
  (:func:`~lmac_brain.explain.timeline_figure.plot_timeline`);
* ``<name>.json``: the record ``lmac report`` reads, with the ``segments`` (neighbouring windows that decided
  the same class, merged: start, end, class, mean probability) and every window.

Nothing of the recording's length is held in memory (:func:`~lmac_brain.interface.streaming.stream_interpretation`).
All or nothing: the files are written under temporary names and renamed at the end; if anything fails,
none of them is left, and the JSON record comes last.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Dict, Iterator, List, Optional, Tuple

import soundfile as sf
import torch
from tqdm import tqdm

from lmac_brain.atomic import all_or_none, atomic_path, write_text
from lmac_brain.explain.longform import Segment, chunk_spans
from lmac_brain.explain.timeline import merge_windows
from lmac_brain.explain.timeline_figure import Overview, plot_timeline
from lmac_brain.interface.listening_page import RECORD_SUFFIX
from lmac_brain.interface.streaming import stream_interpretation

#: Audio written per stretch when a class first appears late (its file starts with this much silence at a time).
_SILENCE_BLOCK = 16000 * 60


class _Sink:
    """A mono audio file being written stretch by stretch (values clipped to ``[-1, 1]``)."""

    def __init__(self, handle: sf.SoundFile):
        self.handle, self.frames = handle, 0

    def write(self, audio: torch.Tensor) -> None:
        self.handle.write(audio.detach().cpu().clamp(-1, 1).numpy())
        self.frames += audio.shape[0]

    def pad_to(self, frames: int) -> None:
        while self.frames < frames:
            self.write(torch.zeros(min(_SILENCE_BLOCK, frames - self.frames)))


@contextlib.contextmanager
def _sink(path: str, sample_rate: int, fmt: str) -> Iterator[_Sink]:
    with atomic_path(path) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=1, subtype="PCM_16", format=fmt) as handle:
            yield _Sink(handle)


def write_timeline(
    out_dir: str,
    name: str,
    source: str,
    interp,
    target: Optional[str] = None,
    window_s: float = 10.0,
    safe_name=str,
) -> List[str]:
    """Explain the recording ``source`` as a stream and write its outputs into ``out_dir``; returns their paths.

    Arguments
    ---------
    out_dir : str
        Output folder (it exists).
    name : str
        Base name of the outputs.
    source : str
        The audio file.
    interp : LMACInterpreter
        The interpreter.
    target : str, optional
        Explain this class in every window (no per-class files); default: each window's decision.
    window_s : float
        Window length in seconds.
    safe_name : callable
        Class name -> file-name part.

    Returns
    -------
    list of str
        The files written, the JSON record last.
    """
    # two windows at a time: their activations are most of what the stream adds to the loaded model's memory
    # (bench/long_input.py measures the peak)
    streamed = stream_interpretation(
        interp, source, target=target, window_s=window_s, per_class=target is None, batch_size=2
    )
    fe, rate, names = interp.mods.lmac.frontend, streamed.sample_rate, interp.class_names
    files: Dict[str, str] = {
        "input": f"{name}_input.wav",
        "interpretation": f"{name}_interpretation.wav",
        "masked_out": f"{name}_masked_out.wav",
        "figure": f"{name}.png",
    }
    overview = Overview(streamed.n_samples // fe.hop_length + 1, fe.n_freqs)
    windows = []
    with all_or_none([]) as final:  # the files of a failed explanation are removed
        with contextlib.ExitStack() as stack:  # the audio files renamed into place when the stream ends
            sinks = {
                key: stack.enter_context(_sink(os.path.join(out_dir, files[key]), rate, "WAV"))
                for key in ("input", "interpretation", "masked_out")
            }
            final += [os.path.join(out_dir, files[key]) for key in sinks]
            classes: Dict[int, _Sink] = {}
            n_windows = len(chunk_spans(streamed.n_samples, streamed.window, fe.hop_length))
            bar = stack.enter_context(tqdm(total=n_windows, unit="window", desc=name, leave=False))
            for chunk in streamed.chunks:
                for key in sinks:
                    sinks[key].write(getattr(chunk, key))
                for c, audio in chunk.class_audio.items():
                    if c not in classes:
                        files[f"class:{names[c]}"] = f"{name}_class_{safe_name(names[c])}.flac"
                        final.append(os.path.join(out_dir, files[f"class:{names[c]}"]))
                        classes[c] = stack.enter_context(_sink(final[-1], rate, "FLAC"))
                    classes[c].pad_to(chunk.start)  # silence where the class was not in play
                    classes[c].write(audio)
                overview.add(chunk.frame_start, chunk.logmag, chunk.mask)
                windows += chunk.windows
                bar.update(len(chunk.windows))
            for sink in classes.values():
                sink.pad_to(streamed.n_samples)
        record, segments = _record(name, source, windows, names, rate, streamed.n_samples, target)
        record["refined"], record["files"] = streamed.refined, files
        final.append(os.path.join(out_dir, files["figure"]))
        title = f"{name}: {len(segments)} segments of {len(windows)} windows; mask explains {record['target']}"
        plot_timeline(final[-1], overview, segments, rate, fe.hop_length, title)
        final.append(os.path.join(out_dir, f"{name}{RECORD_SUFFIX}"))
        write_text(final[-1], json.dumps(record, indent=2))
    return final


def _record(name, source, windows, names, rate, n_samples, target) -> Tuple[dict, List[Segment]]:
    """The JSON record of a timeline (what ``lmac report`` reads; ``top_classes``: the share of the time each
    class holds) and its segments."""
    duration_s = n_samples / rate
    decided = [names[int(w.probs.argmax())] for w in windows]
    segments = merge_windows(
        [(w.start, w.end) for w in windows], decided, [float(w.probs.max()) for w in windows], n_samples, rate
    )
    held: Dict[str, float] = {}
    for seg in segments:
        held[seg.label] = held.get(seg.label, 0.0) + seg.end_s - seg.start_s
    order = sorted(held, key=held.get, reverse=True)
    longest = order[0]
    record = {
        "lmac_explanation": 1,
        "timeline": True,
        "name": name,
        "source": os.path.abspath(source),
        "duration_s": duration_s,
        "label": longest,
        "prob": sum(s.prob * (s.end_s - s.start_s) for s in segments if s.label == longest) / held[longest],
        "target": target if target is not None else "each window's decision",
        "top_classes": [[label, held[label] / duration_s] for label in order[:5]],
        "segments": [vars(s) for s in segments],
        "windows": [
            {"start_s": w.start / rate, "end_s": w.end / rate, "label": label, "prob": float(w.probs.max())}
            for w, label in zip(windows, decided)
        ],
        "budget": None,
    }
    return record, segments
