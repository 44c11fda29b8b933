"""How an evaluation sees a method: the bins it ranks, the classifier that scores masked inputs, and its
masks over an evaluation set, batch by batch.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import torch
from tqdm import tqdm

from lmac_brain.explain.baselines import SpectrogramClassifier
from lmac_brain.models.classifier import AudioClassifier
from lmac_brain.models.frontend import Frontend


def ranking(explainer, mask: torch.Tensor, logmag: torch.Tensor) -> torch.Tensor:
    """What the matched-budget metrics rank an explainer's bins by: ``explainer.rank_scores(mask,
    logmag)`` where it defines one (L-MAC, :meth:`~lmac_brain.explain.lmac.LMAC.rank_scores`), else its mask.

    Example
    -------
    >>> from lmac_brain.explain.floors import Energy
    >>> mask = torch.rand(1, 4, 513)
    >>> torch.equal(ranking(Energy(Frontend()), mask, torch.rand(1, 4, 513)), mask)
    True
    """
    rank_scores = getattr(explainer, "rank_scores", None)
    return mask if rank_scores is None else rank_scores(mask, logmag)


def scoring_model(frontend: Frontend, classifier: AudioClassifier, compile: bool = False) -> Callable:
    """The classifier seen from ``log1p|X|`` that scores masked inputs, optionally compiled.

    With ``compile=True`` the model goes through ``torch.compile`` with inductor's *freezing* (weights
    become constants: batch norms are folded into the convolutions, each convolution is fused with its
    ReLU and its weights are pre-packed for oneDNN), about twice as fast per clip on a CPU as eager,
    same logits up to float rounding. Freezing is switched on around each call
    (``torch._inductor.config.patch``), since inductor compiles at the first call of each input shape:
    passed as ``torch.compile(options={"freezing": True})`` it is not applied (torch 2.14: the weights
    stay graph inputs and the convolutions unfused; the 400-clip matched-budget run of the recipe
    README took 13% longer). Every new input shape compiles once (tens of seconds), so it
    pays off on full evaluation runs, not on a handful of clips. The classifier must not change
    afterwards: the compiled scorer keeps the weights it was compiled with (the sanity check builds
    its own).

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 2)).eval()
    >>> print(scoring_model(Frontend(), clf)(torch.rand(2, 50, 513)).shape)
    torch.Size([2, 2])
    """
    model = SpectrogramClassifier(frontend, classifier).eval()
    if not compile:
        return model
    compiled = torch.compile(model, dynamic=False)

    def score(logmag: torch.Tensor) -> torch.Tensor:
        # freezing applies to inference only, and is read when a shape compiles (inside the call)
        with torch.no_grad(), torch._inductor.config.patch(freezing=True):
            return compiled(logmag)

    return score


def batches(dataset, batch_size: int):
    """Consecutive items in batches of at most ``batch_size`` that share one length (no padding, which
    would change what is explained)."""
    batch = []
    for i in range(len(dataset)):
        item = dataset[i]
        if batch and (len(batch) == batch_size or batch[0][1].numel() != item[1].numel()):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def explained(
    name: str,
    explainer,
    set_name: str,
    dataset,
    frontend: Frontend,
    batch_size: int,
    phase: bool = True,
    target_of: Optional[Callable] = None,
):
    """Per batch of :func:`batches`: ``(items, wavs, mask, seconds per clip to explain, logmag, phase)``
    (``phase`` None unless asked for). ``target_of(item)``: the class to explain for an item (None: the
    classifier's decision on every item of the batch)."""
    for items in tqdm(list(batches(dataset, batch_size)), desc=f"{name} / {set_name}", leave=False):
        wavs = torch.stack([it[1] for it in items])
        targets = None if target_of is None else [target_of(it) for it in items]
        start = time.perf_counter()
        if targets is None or None in targets:
            mask = explainer.explain(wavs)
        else:
            mask = explainer.explain(wavs, torch.tensor(targets))
        seconds = (time.perf_counter() - start) / len(items)
        with torch.no_grad():
            if phase:
                logmag, angle = frontend.log_magnitude_phase(wavs)
            else:
                logmag, angle = frontend.log_magnitude(wavs), None
        yield items, wavs, mask, seconds, logmag, angle
