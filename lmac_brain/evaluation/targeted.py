"""Explanations of classes other than the decision: the "targeted" evaluation set.

For every item, the classifier's ``r``-th most probable classes (by default the 2nd and 3rd) are
explained (``explainer.explain(wavs, target)``; for the paper's L-MAC decoder that is the 30-step
test-time refinement, for the class-conditional decoder one pass) and scored for that class:

* ``Rise``: how much keeping the mask raises the class's probability, ``p_c(M (.) X) - p_c(X)``;
* ``Ins AUC`` / ``Del AUC``: the matched-budget insertion and deletion AUCs of
  :mod:`lmac_brain.evaluation.budget` for class ``c`` (the explainer's ranking, :func:`ranking`);
* ``sec/clip``: the time to explain, per clip of the batch.

Rows are named ``<item>#<r>`` (``r``: the rank of the explained class), in the set ``targeted``.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Sequence

import torch

from lmac_brain.evaluation.budget import BUDGETS, budget_curves, normalized_auc
from lmac_brain.evaluation.scoring import batches, ranking, scoring_model
from lmac_brain.models.classifier import AudioClassifier
from lmac_brain.models.frontend import Frontend


def targeted_rows(
    name: str,
    explainer,
    dataset,
    frontend: Frontend,
    classifier: AudioClassifier,
    mask_domain: str,
    batch_size: int,
    ranks: Sequence[int] = (2, 3),
    budgets: Sequence[float] = BUDGETS,
    seed: int = 0,
    scorer: Optional[Callable] = None,
) -> List[Dict]:
    """Rows of the ``targeted`` set: each item's ``ranks``-th most probable classes explained and scored.

    Example
    -------
    >>> lmac = getfixture("tiny_lmac")  # an untrained LMAC of 3 classes
    >>> items = [("a", torch.randn(8000), None)]
    >>> rows = targeted_rows("L-MAC", lmac, items, lmac.frontend, lmac.classifier, "log1p", 1,
    ...                      ranks=(2,), budgets=(0.1, 0.5))
    >>> print(rows[0]["item"], sorted(k for k in rows[0] if "AUC" in k))
    a#2 ['Del AUC', 'Ins AUC']
    """
    model = scorer or scoring_model(frontend, classifier)

    def apply(logmag, mask):
        return frontend.apply_mask(logmag, mask, mask_domain)

    rows = []
    for items in batches(dataset, batch_size):
        wavs = torch.stack([it[1] for it in items])
        with torch.no_grad():
            logmag = frontend.log_magnitude(wavs)
            probs = model(logmag).softmax(dim=-1)
        order = probs.argsort(dim=-1, descending=True)
        if max(ranks) > order.shape[1]:
            raise ValueError(f"targeted ranks {list(ranks)}: the classifier has only {order.shape[1]} classes.")
        for r in ranks:
            target = order[:, r - 1]
            start = time.perf_counter()
            mask = explainer.explain(wavs, target)
            seconds = (time.perf_counter() - start) / len(items)
            with torch.no_grad():
                kept = model(apply(logmag, mask)).softmax(dim=-1).gather(1, target[:, None])[:, 0]
                curves = budget_curves(
                    model, logmag, ranking(explainer, mask, logmag), target, apply, budgets, "bins", seed, full=False
                )
            before = probs.gather(1, target[:, None])[:, 0]
            ins, dele = (normalized_auc(curves[part], budgets) for part in ("insertion", "deletion"))
            for i, item in enumerate(items):
                rows.append(
                    {
                        "set": "targeted",
                        "method": name,
                        "item": f"{item[0]}#{r}",
                        "Rise": float(kept[i] - before[i]),
                        "Ins AUC": float(ins[i]),
                        "Del AUC": float(dele[i]),
                        "sec/clip": seconds,
                    }
                )
    return rows
