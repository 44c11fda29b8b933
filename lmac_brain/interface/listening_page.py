"""One self-contained HTML page for a folder of explanations written by ``lmac explain``.

For every explanation the page shows the figure (spectrogram, mask, masked spectrogram, class
probabilities), the decision, the class the mask explains, the windows of long inputs, and three audio
players: the input as the classifier heard it, the interpretation (what it listened to) and the
masked-out audio. Audio and figures are embedded as ``data:`` URIs, so the page can be mailed or
opened offline; its size grows with the audio (about 0.65 MB per 5 s explained). A long recording's
timeline (:mod:`lmac_brain.interface.timeline_outputs`) links its audio files instead, with its segments
and a button per segment that plays the interpretation from there: the page stays small (keep it in the
folder with the audio).

The page is built from the ``<name>.json`` records ``lmac explain`` writes next to its outputs, so
``lmac report DIR`` can rebuild it at any time (for instance after explaining more files into DIR).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import base64
import html
import json
import os
from typing import Dict, List

from lmac_brain.atomic import write_text

RECORD_SUFFIX = ".json"
REPORT_NAME = "report.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
section { border-top: 1px solid #ccc; padding: 1em 0; }
img { max-width: 100%; }
table.audio td { padding: 0.2em 1em 0.2em 0; vertical-align: middle; }
.meta { color: #555; }
"""


def _data_uri(path: str, mime: str) -> str:
    with open(path, "rb") as f:
        return f"data:{mime};base64," + base64.b64encode(f.read()).decode("ascii")


def read_records(folder: str) -> List[Dict]:
    """The explanation records of ``folder`` (``lmac explain`` outputs), sorted by name.

    Files that are not explanation records (no ``"lmac_explanation"`` key) are ignored.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "a.json").write_text('{"lmac_explanation": 1, "name": "a"}', "utf-8")
    >>> _ = (tmp / "other.json").write_text('{"x": 1}', "utf-8")
    >>> [r["name"] for r in read_records(str(tmp))]
    ['a']
    """
    records = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(RECORD_SUFFIX):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("lmac_explanation"):
            records.append(record)
    return records


def _clock(seconds: float) -> str:
    """``h:mm:ss.s`` (``m:ss.s`` under an hour).

    >>> _clock(3725.25), _clock(65.0)
    ('1:02:05.2', '1:05.0')
    """
    m, sec = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{sec:04.1f}" if h else f"{m}:{sec:04.1f}"


def _timeline_section(record: Dict) -> str:
    """A long recording's section: its audio linked (not embedded: the page stays small), the segments, each
    with a button that plays the interpretation from the segment's start, and each class's own audio."""
    files, esc, key = record["files"], html.escape, html.escape(record["name"])
    rows = "".join(
        f'<tr><td>{esc(title)}</td><td><audio id="{key}-{name}" controls preload="none" '
        f'src="{esc(files[name])}"></audio></td></tr>'
        for name, title in (
            ("input", "input (as the classifier hears it)"),
            ("interpretation", "interpretation: what it listened to"),
            ("masked_out", "masked out"),
        )
    )
    rows += "".join(
        f"<tr><td>only where it decided <b>{esc(name[len('class:') :])}</b></td><td><audio controls "
        f'preload="none" src="{esc(path)}"></audio></td></tr>'
        for name, path in files.items()
        if name.startswith("class:")
    )
    seek = f"document.getElementById('{key}-interpretation')"
    segments = "".join(
        f"<tr><td>{_clock(s['start_s'])}-{_clock(s['end_s'])}</td><td>{esc(s['label'])}</td><td>{s['prob']:.2f}</td>"
        f'<td><button onclick="let p={seek};p.currentTime={s["start_s"]:.2f};p.play()">&#9654;</button></td></tr>'
        for s in record["segments"]
    )
    shares = ", ".join(f"{esc(name)} {100 * share:.0f}%" for name, share in record["top_classes"])
    return (
        f'<section id="{key}"><h2>{key}</h2>'
        f'<p class="meta">file: {esc(record["source"])} &middot; {_clock(record["duration_s"])} &middot; '
        f"{len(record['windows'])} windows, {len(record['segments'])} segments</p>"
        f"<p>mask explains: <b>{esc(record['target'])}</b>; time held: {shares}</p>"
        f'<table class="audio">{rows}</table>'
        f'<details open><summary>segments (play the interpretation from each)</summary><table class="audio">'
        f"<tr><th>time</th><th>decision</th><th>p</th><th></th></tr>{segments}</table></details>"
    )


def _section(folder: str, record: Dict) -> str:
    if record.get("timeline"):
        return (
            _timeline_section(record)
            + f'<img alt="decision track, spectrogram and mask of {html.escape(record["name"])}" '
            f'src="{_data_uri(os.path.join(folder, record["files"]["figure"]), "image/png")}"></section>'
        )
    files = record["files"]
    esc = html.escape
    probs = ", ".join(f"{esc(name)} {p:.2f}" for name, p in record["top_classes"])
    explained = esc(record["target"]) + (" (mask refined for this class)" if record["refined"] else "")
    if record.get("budget") is not None:  # records written before budgets have no key
        explained += f" &middot; binary mask: the top {100 * record['budget']:g}% of the time-frequency bins"
    rows = "".join(
        f'<tr><td>{esc(title)}</td><td><audio controls preload="auto" '
        f'src="{_data_uri(os.path.join(folder, files[key]), "audio/wav")}">'
        "</audio></td></tr>"
        for key, title in (
            ("input", "input (as the classifier hears it)"),
            ("interpretation", "interpretation: what it listened to"),
            ("masked_out", "masked out"),
        )
    )
    segments = ""
    if len(record["segments"]) > 1:
        items = "".join(
            f"<li>{s['start_s']:.1f}-{s['end_s']:.1f} s: {esc(s['label'])} ({s['prob']:.2f})</li>"
            for s in record["segments"]
        )
        segments = f"<details><summary>{len(record['segments'])} windows</summary><ul>{items}</ul></details>"
    return (
        f'<section id="{esc(record["name"])}"><h2>{esc(record["name"])}</h2>'
        f'<p class="meta">file: {esc(record["source"])} &middot; {record["duration_s"]:.2f} s</p>'
        f"<p>decision: <b>{esc(record['label'])}</b> ({record['prob']:.2f}) &middot; "
        f"mask explains: <b>{explained}</b></p>"
        f'<p class="meta">top classes: {probs}</p>'
        f'<table class="audio">{rows}</table>{segments}'
        f'<img alt="spectrogram, mask and masked spectrogram of {esc(record["name"])}" '
        f'src="{_data_uri(os.path.join(folder, files["figure"]), "image/png")}">'
        "</section>"
    )


def write_report(folder: str, title: str = "L-MAC explanations") -> str:
    """Write ``folder/report.html`` from the explanation records in ``folder``; returns its path.

    Records whose files are missing are left out with a note on the page. Written atomically.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> path = write_report(str(tmp))
    >>> print(os.path.basename(path), "no explanations" in open(path, encoding="utf-8").read())
    report.html True
    """
    sections, skipped = [], []
    for record in read_records(folder):
        if all(os.path.isfile(os.path.join(folder, f)) for f in record["files"].values()):
            sections.append(_section(folder, record))
        else:
            skipped.append(record["name"])
    body = "".join(sections) or "<p>There are no explanations in this folder yet (run <code>lmac explain</code>).</p>"
    if skipped:
        body += f'<p class="meta">Left out (files missing): {html.escape(", ".join(skipped))}</p>'
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{html.escape(title)}</title><link rel="icon" href="data:,"><style>{_STYLE}</style></head>'
        f"<body><h1>{html.escape(title)}</h1>"
        '<p class="meta">Interpretation = the part of the input the classifier listened to (L-MAC mask applied); '
        "masked out = the rest.</p>"
        f"{body}</body></html>\n"
    )
    path = os.path.join(folder, REPORT_NAME)
    write_text(path, page)
    return path
