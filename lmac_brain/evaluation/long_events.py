"""A long recording with known events, to measure a timeline: clips of known class put end to end.

:func:`write_event_recording` concatenates clips (each as :func:`~lmac_brain.data.audio.load_audio` reads it,
not normalised) into one file, written clip by clip, and returns the events (sample span and class). A
timeline of that file (``lmac explain``) is then judged per event:

* :func:`event_decisions`: the class the timeline gives at the event's centre against the event's label, next
  to the classifier's decision on the clip alone (what bounds the timeline: a window is a clip in context);
* :func:`event_items`: each event's stretch of the recording as the interpreter hears it (the recording's
  input normalisation), as items of the listening round trip
  (:func:`~lmac_brain.evaluation.evaluate.listening_rows`): the top ``q`` of an explanation's bins made audio
  and classified again, for L-MAC and the floors on the same stretches.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

import soundfile as sf
import torch

from lmac_brain.atomic import atomic_path
from lmac_brain.data.audio import load_audio


@dataclass
class Event:
    """A clip inside the recording: samples ``[start, end)``, its item id and labelled class."""

    item: str
    start: int
    end: int
    label: str


def write_event_recording(clips: Sequence[Tuple[str, str, str]], path: str, sample_rate: int) -> List[Event]:
    """Write ``clips`` (``(item, audio file, label)``, in order) end to end as one FLAC file; returns the events.

    Example
    -------
    >>> import numpy as np
    >>> tmp = getfixture("tmpdir")
    >>> for name, f in (("a", 440), ("b", 880)):
    ...     sf.write(str(tmp / f"{name}.wav"), 0.5 * np.sin(2 * np.pi * f * np.arange(8000) / 16000), 16000)
    >>> events = write_event_recording([("a", str(tmp / "a.wav"), "low"), ("b", str(tmp / "b.wav"), "high")],
    ...                                str(tmp / "long.flac"), 16000)
    >>> [(e.item, e.start, e.end, e.label) for e in events], sf.info(str(tmp / "long.flac")).frames
    ([('a', 0, 8000, 'low'), ('b', 8000, 16000, 'high')], 16000)
    """
    events, start = [], 0
    with atomic_path(path) as tmp:
        with sf.SoundFile(tmp, "w", samplerate=sample_rate, channels=1, format="FLAC", subtype="PCM_24") as f:
            for item, clip, label in clips:
                wav = load_audio(clip, sample_rate, normalize=False)
                f.write(wav.clamp(-1, 1).numpy())
                events.append(Event(item, start, start + wav.shape[0], label))
                start += wav.shape[0]
    return events


def label_at(segments: Sequence[Mapping], seconds: float) -> str:
    """The class of the timeline segment (``start_s``, ``end_s``, ``label``) that holds time ``seconds``.

    >>> label_at([{"start_s": 0.0, "end_s": 5.0, "label": "a"}, {"start_s": 5.0, "end_s": 9.0, "label": "b"}], 5.0)
    'b'
    """
    for seg in segments:
        if seg["start_s"] <= seconds < seg["end_s"]:
            return seg["label"]
    return segments[-1]["label"]


def event_decisions(
    events: Sequence[Event], segments: Sequence[Mapping], alone: Sequence[str], sample_rate: int
) -> List[Dict]:
    """Per event: the timeline's class at its centre and the classifier's decision on the clip ``alone``,
    each against the label (``Timeline acc (%)``, ``Alone acc (%)``: 100 or 0, so their means are accuracies).

    >>> ev = [Event("a", 0, 10, "dog"), Event("b", 10, 20, "rain")]
    >>> rows = event_decisions(ev, [{"start_s": 0.0, "end_s": 2.0, "label": "dog"}], ["dog", "dog"], 10)
    >>> [(r["Timeline acc (%)"], r["Alone acc (%)"]) for r in rows]
    [(100.0, 100.0), (0.0, 0.0)]
    """
    rows = []
    for event, decided in zip(events, alone):
        timeline = label_at(segments, (event.start + event.end) / 2 / sample_rate)
        rows.append(
            {
                "set": "events",
                "method": "timeline",
                "item": event.item,
                "label": event.label,
                "timeline": timeline,
                "alone": decided,
                "Timeline acc (%)": 100.0 * (timeline == event.label),
                "Alone acc (%)": 100.0 * (decided == event.label),
            }
        )
    return rows


def event_items(
    events: Sequence[Event], read: Callable[[int, int], torch.Tensor]
) -> List[Tuple[str, torch.Tensor, None]]:
    """The events' stretches read through ``read(a, b)`` (e.g. an :class:`~lmac_brain.data.audio_stream.AudioStream`
    scaled by the recording's input normalisation), as items ``(item, waveform, None)`` of an evaluation set.

    >>> items = event_items([Event("a", 2, 5, "x")], lambda a, b: torch.arange(a, b).float())
    >>> items[0][0], items[0][1].tolist()
    ('a', [2.0, 3.0, 4.0])
    """
    return [(event.item, read(event.start, event.end), None) for event in events]


def clip_paths(data_folder: str, rows: Sequence[Mapping]) -> List[Tuple[str, str, str]]:
    """``(item, path, category)`` of ESC-50 meta rows."""
    return [
        (os.path.splitext(r["filename"])[0], os.path.join(data_folder, "audio", r["filename"]), r["category"])
        for r in rows
    ]
