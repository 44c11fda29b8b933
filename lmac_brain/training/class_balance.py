"""Imbalanced classes: the metrics that expose a majority-class predictor, and class-balanced sampling.

Accuracy hides a classifier that always answers the majority class: with one class holding 84% of the
clips, that classifier scores 84%. The classifier recipes therefore report, beside accuracy, the
confusion matrix (rows: true class, columns: predicted class), each class's recall and the balanced
accuracy (mean recall over the classes present in the split; the majority predictor scores ``1/C``), and
select their checkpoint on the balanced accuracy (equal to accuracy when every class has as many clips,
as in ESC-50).

When the largest class of the training manifest holds more than :data:`IMBALANCE_RATIO` times the
smallest one's share, a warning names the classes and their shares, and (``class_balance: auto``, the
default) training draws clips with probability inversely proportional to their class's size, so that
every class is seen equally often (:func:`balanced_sampler`).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import collections
import logging
from typing import Dict, List, Optional, Sequence

import torch
from speechbrain.dataio.sampler import ReproducibleWeightedRandomSampler

from lmac_brain.atomic import save_figure

logger = logging.getLogger(__name__)

IMBALANCE_RATIO = 2.0
"""Largest / smallest class share of the training manifest above which the classes count as imbalanced."""
BALANCE_MODES = ("auto", "on", "off")


def confusion_matrix(predictions: torch.Tensor, targets: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Counts ``[C, C]`` (int64) of (true class, predicted class) pairs.

    Example
    -------
    >>> confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 0, 1, 2]), 3)
    tensor([[1, 1, 0],
            [0, 1, 0],
            [0, 0, 1]])
    """
    index = targets.view(-1).long() * n_classes + predictions.view(-1).long()
    return torch.bincount(index.cpu(), minlength=n_classes * n_classes).view(n_classes, n_classes)


def summarize_confusion(confusion: torch.Tensor) -> Dict[str, object]:
    """Accuracy, balanced accuracy and per-class recall of a confusion matrix (rows: true class).

    A class with no clip in the split has no recall (None) and is left out of the balanced accuracy.

    Arguments
    ---------
    confusion : torch.Tensor
        ``[C, C]`` counts, rows true class, columns predicted class.

    Returns
    -------
    dict
        ``acc`` (float), ``bal_acc`` (float: mean recall over the classes present) and ``recall``
        (list of C floats or None).

    Example
    -------
    Always predicting class 0 on 8, 1 and 1 clips of three classes:

    >>> s = summarize_confusion(torch.tensor([[8, 0, 0], [1, 0, 0], [1, 0, 0]]))
    >>> print(s["acc"], round(s["bal_acc"], 4), s["recall"])
    0.8 0.3333 [1.0, 0.0, 0.0]
    >>> summarize_confusion(torch.tensor([[2, 0], [0, 0]]))["recall"]
    [1.0, None]
    """
    confusion = confusion.double()
    support = confusion.sum(dim=1)
    total = float(support.sum())
    if total == 0:
        raise ValueError("The confusion matrix is empty: no clip was scored (is the split empty?).")
    recall = [float(confusion[c, c] / support[c]) if support[c] > 0 else None for c in range(confusion.shape[0])]
    present = [r for r in recall if r is not None]
    return {
        "acc": float(confusion.diagonal().sum()) / total,
        "bal_acc": sum(present) / len(present),
        "recall": recall,
    }


def class_counts(labels: Sequence[str]) -> Dict[str, int]:
    """Number of clips per class, classes sorted by name.

    Example
    -------
    >>> class_counts(["rain", "dog", "rain"])
    {'dog': 1, 'rain': 2}
    """
    return dict(sorted(collections.Counter(labels).items()))


def is_imbalanced(counts: Dict[str, int]) -> bool:
    """True when the largest class has more than :data:`IMBALANCE_RATIO` times the smallest one's clips.

    Example
    -------
    >>> is_imbalanced({"dog": 10, "rain": 20}), is_imbalanced({"dog": 10, "rain": 21})
    (False, True)
    """
    return max(counts.values()) > IMBALANCE_RATIO * min(counts.values())


def use_balanced_sampling(counts: Dict[str, int], mode: str) -> bool:
    """Decide on class-balanced sampling (``mode``: ``auto``, ``on``, ``off``); warn about imbalance.

    ``auto`` balances exactly when :func:`is_imbalanced`. Whatever the mode, imbalanced classes are
    named in a warning with their shares of the training clips.

    Example
    -------
    >>> use_balanced_sampling({"dog": 84, "rain": 16}, "auto"), use_balanced_sampling({"dog": 5, "rain": 5}, "auto")
    (True, False)
    >>> use_balanced_sampling({"dog": 5, "rain": 5}, "sometimes")
    Traceback (most recent call last):
    ...
    ValueError: class_balance must be one of auto, on, off; got 'sometimes'.
    """
    if mode not in BALANCE_MODES:
        raise ValueError(f"class_balance must be one of {', '.join(BALANCE_MODES)}; got {mode!r}.")
    imbalanced = is_imbalanced(counts)
    balance = mode == "on" or (mode == "auto" and imbalanced)
    if imbalanced:
        total = sum(counts.values())
        shares = ", ".join(
            f"{name!r} {100 * n / total:.1f}%" for name, n in sorted(counts.items(), key=lambda x: -x[1])
        )
        action = (
            "training draws every class equally often (class-balanced sampling)"
            if balance
            else "class_balance is off: training sees the classes in these proportions"
        )
        logger.warning(
            "Imbalanced classes in the training manifest (largest share more than %.0f times the smallest): %s. "
            "%s; the checkpoint is selected on balanced accuracy.",
            IMBALANCE_RATIO,
            shares,
            action,
        )
    return balance


def balanced_sampler(labels: Sequence[str], seed: int) -> ReproducibleWeightedRandomSampler:
    """Sampler drawing ``len(labels)`` items per epoch, with replacement, every class equally likely.

    Item ``i`` is drawn with probability proportional to ``1 / count(labels[i])``. The draw depends only
    on ``seed`` and the epoch (SpeechBrain calls ``set_epoch``), so a resumed run draws the same items.

    Example
    -------
    >>> sampler = balanced_sampler(["dog"] * 9 + ["rain"], seed=0)
    >>> drawn = []
    >>> for epoch in range(50):
    ...     sampler.set_epoch(epoch)
    ...     drawn += list(sampler)
    >>> print(len(sampler), round(sum(i == 9 for i in drawn) / len(drawn), 1))  # the one "rain" clip: half the draws
    10 0.5
    """
    counts = collections.Counter(labels)
    weights = [1.0 / counts[label] for label in labels]
    return ReproducibleWeightedRandomSampler(weights, num_samples=len(labels), replacement=True, seed=seed)


def confusion_report(confusion: torch.Tensor, class_names: List[str]) -> Dict[str, object]:
    """JSON-ready summary: ``acc``, ``bal_acc``, ``per_class_recall`` (by class name) and ``confusion``.

    Example
    -------
    >>> r = confusion_report(torch.tensor([[3, 1], [0, 0]]), ["dog", "rain"])
    >>> print(r["per_class_recall"], r["confusion"]["matrix"])
    {'dog': 0.75, 'rain': None} [[3, 1], [0, 0]]
    """
    summary = summarize_confusion(confusion)
    return {
        "acc": summary["acc"],
        "bal_acc": summary["bal_acc"],
        "per_class_recall": dict(zip(class_names, summary["recall"])),
        "confusion": {
            "rows": "true class",
            "columns": "predicted class",
            "classes": list(class_names),
            "matrix": confusion.tolist(),
        },
    }


def plot_confusion(path: str, confusion: torch.Tensor, class_names: List[str], title: Optional[str] = None) -> str:
    """Write the confusion matrix as a PNG (rows normalised to recall, counts annotated), atomically.

    Example
    -------
    >>> import os
    >>> path = str(getfixture("tmpdir") / "confusion.png")
    >>> _ = plot_confusion(path, torch.tensor([[8, 2], [1, 4]]), ["dog", "rain"])
    >>> os.path.getsize(path) > 1000
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = confusion.double()
    rates = counts / counts.sum(dim=1, keepdim=True).clamp(min=1)
    n = len(class_names)
    size = min(4 + 0.3 * n, 20)
    fig, ax = plt.subplots(figsize=(size, size * 0.85), constrained_layout=True)
    im = ax.imshow(rates.numpy(), vmin=0.0, vmax=1.0, cmap="Blues")
    fig.colorbar(im, ax=ax, label="share of the true class")
    font = max(4, 10 - n // 8)
    ax.set_xticks(range(n), class_names, rotation=90, fontsize=font)
    ax.set_yticks(range(n), class_names, fontsize=font)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if counts[i, j] > 0:
                    ax.text(
                        j,
                        i,
                        int(counts[i, j]),
                        ha="center",
                        va="center",
                        fontsize=font,
                        color="white" if rates[i, j] > 0.5 else "black",
                    )
    summary = summarize_confusion(confusion)
    ax.set_title(title or f"accuracy {summary['acc']:.3f}, balanced accuracy {summary['bal_acc']:.3f}")
    return save_figure(fig, path, dpi=100)
