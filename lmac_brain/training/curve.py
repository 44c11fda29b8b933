"""A run's quality against its training time, read from the two logs of its output folder.

A recipe run writes ``train_log.txt`` (one line per epoch: ``epoch: N, phase: P, lr: X - train k: v, ... -
valid k: v, ...``) and SpeechBrain's ``log.txt`` (timestamped; ``Going into epoch N`` when an epoch starts,
``Saved an end-of-epoch checkpoint`` when it ends). :func:`training_curve` joins them: per epoch its
validation values and the training hours up to its end, counting each completed epoch's own wall time
(from its start to its checkpoint), so the time lost to a stop (a partial epoch, the gap until the
command is run again) is not counted: the hours are those of one uninterrupted run.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import datetime
import re
from typing import Dict, List, Mapping

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) - ")
_START = re.compile(r"Going into epoch (\d+)\s*$")
_END = "Saved an end-of-epoch checkpoint"
_VALUE = re.compile(r"^\s*(.+?): ([-+0-9.eE]+|nan|inf)\s*$")


def epoch_seconds(log_text: str) -> Dict[int, float]:
    """Wall seconds of each completed epoch in a SpeechBrain ``log.txt``.

    An epoch is completed when its end-of-epoch checkpoint is saved; an epoch that was started again after a
    stop counts with its completed run.

    Arguments
    ---------
    log_text : str
        The text of ``log.txt``.

    Returns
    -------
    dict
        Epoch -> seconds from ``Going into epoch N`` to the next end-of-epoch checkpoint.

    Example
    -------
    >>> log = '''2026-12-07 15:10:08,000 - speechbrain.utils.epoch_loop - INFO - Going into epoch 1
    ... 2026-12-07 15:12:38,500 - speechbrain.utils.checkpoints - INFO - Saved an end-of-epoch checkpoint in s/C1
    ... 2026-12-07 15:12:38,600 - speechbrain.utils.epoch_loop - INFO - Going into epoch 2
    ... 2026-12-07 16:00:00,000 - speechbrain.core - INFO - Beginning experiment!
    ... 2026-12-07 16:00:02,000 - speechbrain.utils.epoch_loop - INFO - Going into epoch 2
    ... 2026-12-07 16:02:32,000 - speechbrain.utils.checkpoints - INFO - Saved an end-of-epoch checkpoint in s/C2'''
    >>> epoch_seconds(log)
    {1: 150.5, 2: 150.0}
    """
    seconds: Dict[int, float] = {}
    current, started = None, None
    for line in log_text.splitlines():
        stamp = _STAMP.match(line)
        if stamp is None:
            continue
        when = datetime.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
        when += int(stamp.group(2)) / 1000
        start = _START.search(line)
        if start:
            current, started = int(start.group(1)), when
        elif _END in line and current is not None:
            seconds[current] = round(when - started, 3)
            current = None
    return seconds


def epoch_values(train_log_text: str) -> Dict[int, Dict[str, float]]:
    """The values of each epoch line of a recipe's ``train_log.txt``, keyed ``"phase"``, ``"lr"``,
    ``"train <name>"`` and ``"valid <name>"`` (the last line of an epoch wins).

    Example
    -------
    >>> values = epoch_values("epoch: 3, phase: 2, lr: 1.00e-03 - train loss: 14.9 - valid loss: 9.09, valid AI: 24.75")
    >>> values[3]["phase"], values[3]["lr"], values[3]["valid AI"]
    (2.0, 0.001, 24.75)
    """
    rows: Dict[int, Dict[str, float]] = {}
    for line in train_log_text.splitlines():
        if not line.startswith("epoch: "):
            continue
        values: Dict[str, float] = {}
        for field in re.split(r",| - ", line):
            match = _VALUE.match(field)
            if match:
                values[match.group(1)] = float(match.group(2))
        if "epoch" in values:
            rows[int(values.pop("epoch"))] = values
    return rows


def training_curve(log_text: str, train_log_text: str) -> List[Dict[str, float]]:
    """Per epoch of ``train_log.txt`` (in order): its values (:func:`epoch_values`), ``"epoch"``, and
    ``"hours"``, the training hours up to its end (:func:`epoch_seconds`, summed).

    Raises
    ------
    ValueError
        If an epoch of ``train_log.txt`` has no completed run in ``log.txt`` (the two logs are not of the
        same run folder, or the log was cut).

    Example
    -------
    >>> log = '''2026-12-07 15:10:00,000 - x - INFO - Going into epoch 1
    ... 2026-12-07 15:40:00,000 - x - INFO - Saved an end-of-epoch checkpoint in s/C1'''
    >>> training_curve(log, "epoch: 1, phase: 1, lr: 1e-3 - train loss: 2.0 - valid loss: 1.5")
    [{'phase': 1.0, 'lr': 0.001, 'train loss': 2.0, 'valid loss': 1.5, 'epoch': 1, 'hours': 0.5}]
    """
    seconds = epoch_seconds(log_text)
    rows, total = [], 0.0
    for epoch, values in sorted(epoch_values(train_log_text).items()):
        if epoch not in seconds:
            raise ValueError(
                f"epoch {epoch} of train_log.txt has no completed run in log.txt (epochs timed there: "
                f"{sorted(seconds) or 'none'}); give the log.txt of the same run folder."
            )
        total += seconds[epoch]
        rows.append(dict(values, epoch=epoch, hours=total / 3600))
    return rows


def curve_table(rows: List[Mapping[str, float]], metrics: List[str], every: int = 1) -> str:
    """A Markdown table of ``rows`` (:func:`training_curve`): epoch, phase, hours and ``metrics``, of every
    ``every``-th epoch and the last one.

    Raises
    ------
    ValueError
        If a metric is not in every row.

    Example
    -------
    >>> rows = [{"epoch": e, "phase": 1.0, "hours": e / 10, "valid loss": 2.0 / e} for e in (1, 2, 3)]
    >>> print(curve_table(rows, ["valid loss"], every=2))
    | epoch | phase | hours | valid loss |
    |---|---|---|---|
    | 2 | 1 | 0.20 | 1 |
    | 3 | 1 | 0.30 | 0.667 |
    """
    missing = sorted({m for m in metrics for r in rows if m not in r})
    if missing:
        raise ValueError(f"no {missing} in the epoch lines; they have {sorted(rows[0]) if rows else 'nothing'}.")
    lines = ["| epoch | phase | hours | " + " | ".join(metrics) + " |", "|---" * (3 + len(metrics)) + "|"]
    for i, row in enumerate(rows):
        if (row["epoch"] % every) and i != len(rows) - 1:
            continue
        cells = [str(row["epoch"]), f"{row.get('phase', 0):g}", f"{row['hours']:.2f}"]
        lines.append("| " + " | ".join(cells + [f"{row[m]:.3g}" for m in metrics]) + " |")
    return "\n".join(lines)
