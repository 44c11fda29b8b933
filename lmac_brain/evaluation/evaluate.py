"""Run explainers over evaluation sets and produce per-item result rows.

Every explainer is built by a factory ``f(frontend, classifier) -> explainer`` (so the sanity check can
rebuild it on a randomised classifier) and used only through ``explain(wavs) -> mask``; every mask goes
through the same masking (:meth:`~lmac_brain.models.frontend.Frontend.apply_mask`) and the same metric code.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from lmac_brain.data.audio import peak_normalize
from lmac_brain.evaluation.budget import BUDGETS, budget_curves, normalized_auc
from lmac_brain.evaluation.localization import matched_time_iou, pointing_game, si_sdr, span_frames, time_iou
from lmac_brain.evaluation.metrics import all_metrics
from lmac_brain.evaluation.sanity import randomization_levels, randomization_test
from lmac_brain.evaluation.scoring import explained, ranking, scoring_model
from lmac_brain.explain.budget_masks import keep_top, rank_bins
from lmac_brain.explain.listen import listenable
from lmac_brain.explain.lmac import LMAC
from lmac_brain.models.classifier import AudioClassifier
from lmac_brain.models.decoder import LMACDecoder
from lmac_brain.models.frontend import Frontend

logger = logging.getLogger(__name__)

Factory = Callable[[Frontend, AudioClassifier], object]

#: the parts of the evaluation, in the order they run
SECTIONS = ("budget", "listening", "faithfulness", "localization", "sanity", "targeted")


def check_sections(sections: Sequence[str], allowed: Sequence[str] = SECTIONS) -> List[str]:
    """The evaluation sections to run, checked against ``allowed`` (default :data:`SECTIONS`; a recipe that
    runs only some of them names those).

    Example
    -------
    >>> check_sections(["sanity"])
    ['sanity']
    >>> check_sections(["sanity", "speed"])
    Traceback (most recent call last):
    ...
    ValueError: Unknown evaluation sections ['speed']; choose from budget, listening, ...
    >>> check_sections(["sanity"], allowed=("budget", "listening"))
    Traceback (most recent call last):
    ...
    ValueError: Unknown evaluation sections ['sanity']; choose from budget, listening.
    """
    sections = list(sections)
    if not sections:
        raise ValueError(f"No evaluation section chosen; choose from {', '.join(allowed)}.")
    unknown = [s for s in sections if s not in allowed]
    if unknown:
        raise ValueError(f"Unknown evaluation sections {unknown}; choose from {', '.join(allowed)}.")
    return sections


def select_methods(explainers: Dict[str, Factory], names: Optional[Sequence[str]]) -> Dict[str, Factory]:
    """The explainer factories named in ``names`` (all of them for ``None``), in the configuration's order.

    Example
    -------
    >>> select_methods({"a": 1, "b": 2, "c": 3}, ["c", "a"])
    {'a': 1, 'c': 3}
    >>> select_methods({"a": 1}, ["z"])
    Traceback (most recent call last):
    ...
    ValueError: Unknown explainers ['z']; the configuration has: a.
    """
    if names is None:
        return dict(explainers)
    unknown = [n for n in names if n not in explainers]
    if unknown:
        raise ValueError(f"Unknown explainers {unknown}; the configuration has: {', '.join(explainers)}.")
    return {n: f for n, f in explainers.items() if n in names}


def lmac_explainer(
    frontend: Frontend,
    classifier: AudioClassifier,
    decoder: LMACDecoder,
    mask_domain: str = "log1p",
    rank_power: Optional[float] = None,
) -> LMAC:
    """L-MAC as an explainer factory entry: an :class:`~lmac_brain.explain.lmac.LMAC` in eval mode (``rank_power``:
    its budget ranking, :meth:`~lmac_brain.explain.lmac.LMAC.rank_scores`).

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> from lmac_brain.models.decoder import rep_channels
    >>> emb = Cnn14(80, 16, 0.0625, return_reps=True)
    >>> clf = AudioClassifier(emb, torch.nn.Linear(16, 2))
    >>> lmac_explainer(Frontend(), clf, LMACDecoder(rep_channels(emb), hidden=4, out_channels=2)).training
    False
    """
    return LMAC(frontend, classifier, decoder, mask_domain, rank_power=rank_power).eval()


def faithfulness_rows(
    name: str,
    explainer,
    set_name: str,
    dataset,
    frontend: Frontend,
    classifier: AudioClassifier,
    mask_domain: str,
    batch_size: int,
    scorer: Optional[Callable] = None,
) -> List[Dict]:
    """AI, AD, AG, FF, Fid-In, SPS, COMP and seconds per clip for every item of an :class:`EvaluationSet`.

    ``scorer`` (default :func:`scoring_model`, not compiled) classifies the masked inputs.

    Example
    -------
    >>> from lmac_brain.explain.baselines import Saliency
    >>> lmac = getfixture("tiny_lmac")  # an untrained LMAC: its front end and classifier
    >>> fe, clf = lmac.frontend, lmac.classifier
    >>> items = [("a", torch.randn(8000), None), ("b", torch.randn(8000), None)]
    >>> rows = faithfulness_rows("Saliency", Saliency(fe, clf), "demo", items, fe, clf, "log1p", 2)
    >>> print(len(rows), rows[0]["item"], sorted(rows[0])[:3])
    2 a ['AD', 'AG', 'AI']
    """
    model = scorer or scoring_model(frontend, classifier)
    rows = []
    for items, _, mask, seconds, logmag, _ in explained(name, explainer, set_name, dataset, frontend, batch_size):
        with torch.no_grad():
            metrics = all_metrics(
                model(logmag),
                model(frontend.apply_mask(logmag, mask, mask_domain)),
                model(frontend.apply_mask(logmag, 1 - mask, mask_domain)),
                mask,
            )
        for i, item in enumerate(items):
            row = {"set": set_name, "method": name, "item": item[0], "sec/clip": seconds}
            row.update({k: float(v[i]) for k, v in metrics.items()})
            rows.append(row)
    return rows


def budget_rows(
    name: str,
    explainer,
    set_name: str,
    dataset,
    frontend: Frontend,
    classifier: AudioClassifier,
    mask_domain: str,
    batch_size: int,
    budgets: Sequence[float] = BUDGETS,
    seed: int = 0,
    scorer: Optional[Callable] = None,
    decisions: Optional[Dict[str, Tuple[int, float]]] = None,
) -> List[Dict]:
    """Matched-budget insertion and deletion (:mod:`lmac_brain.evaluation.budget`) for every item of a set.

    Columns: ``Ins AUC`` / ``Del AUC`` (budget = share of bins), ``Ins AUC (energy)`` /
    ``Del AUC (energy)`` (budget = share of the energy), ``p(full)`` (the class's probability on the
    whole input), the points of the bin curves ``Ins@q`` / ``Del@q``, and ``sec/clip`` (the time to
    explain, per clip of the batch). The class explained is the
    classifier's decision on the input; bins are ranked by :func:`ranking`. ``scorer`` (default
    :func:`scoring_model`, not compiled) classifies the masked inputs. ``decisions`` (item id -> decision and
    its probability on the whole input) is read and filled in, so that runs of several methods over one set
    classify each whole input once.

    Example
    -------
    >>> from lmac_brain.explain.floors import Energy
    >>> fe, clf = getfixture("tiny_lmac").frontend, getfixture("tiny_lmac").classifier
    >>> items = [("a", torch.randn(8000), None), ("b", torch.randn(8000), None)]
    >>> rows = budget_rows("Energy", Energy(fe), "demo", items, fe, clf, "log1p", 2)
    >>> print(len(rows), [k for k in rows[0] if k.startswith("Ins")])
    2 ['Ins AUC', 'Ins AUC (energy)', 'Ins@0.02', 'Ins@0.05', 'Ins@0.1', 'Ins@0.2', 'Ins@0.3', 'Ins@0.5']
    """
    model = scorer or scoring_model(frontend, classifier)

    def apply(logmag, binary):
        return frontend.apply_mask(logmag, binary, mask_domain)

    rows = []
    batches = explained(name, explainer, f"{set_name} (budget)", dataset, frontend, batch_size, phase=False)
    for items, _, mask, seconds, logmag, _ in batches:
        with torch.no_grad():
            scores = ranking(explainer, mask, logmag)
            order = rank_bins(scores, seed)  # one ranking for both budget units
        known = decisions is not None and all(item[0] in decisions for item in items)
        target = torch.tensor([decisions[item[0]][0] for item in items]) if known else None  # None: the decision
        bins = budget_curves(model, logmag, scores, target, apply, budgets, "bins", seed, full=not known, order=order)
        energy = budget_curves(
            model, logmag, scores, bins["target"], apply, budgets, "energy", seed, full=False, order=order
        )
        full = torch.tensor([decisions[item[0]][1] for item in items]) if known else bins["full"]
        if decisions is not None:
            decisions.update({item[0]: (int(bins["target"][i]), float(full[i])) for i, item in enumerate(items)})
        auc = {
            key: normalized_auc(curves[part], budgets)
            for key, curves, part in (
                ("Ins AUC", bins, "insertion"),
                ("Del AUC", bins, "deletion"),
                ("Ins AUC (energy)", energy, "insertion"),
                ("Del AUC (energy)", energy, "deletion"),
            )
        }
        for i, item in enumerate(items):
            row = {"set": set_name, "method": name, "item": item[0], "p(full)": float(full[i]), "sec/clip": seconds}
            row.update({key: float(value[i]) for key, value in auc.items()})
            row.update({f"Ins@{q:g}": float(bins["insertion"][i, j]) for j, q in enumerate(budgets)})
            row.update({f"Del@{q:g}": float(bins["deletion"][i, j]) for j, q in enumerate(budgets)})
            rows.append(row)
    return rows


def listening_rows(
    name: str,
    explainer,
    set_name: str,
    dataset,
    frontend: Frontend,
    classifier: AudioClassifier,
    mask_domain: str,
    batch_size: int,
    budgets: Sequence[float] = (0.1, 0.2),
    seed: int = 0,
    scorer: Optional[Callable] = None,
) -> List[Dict]:
    """What a user hears at a budget, classified again: ``Listen@q`` for every item of a set.

    The top ``q`` of the explanation's bins (:func:`~lmac_brain.explain.budget_masks.keep_top` of
    :func:`ranking`) become listenable audio (ISTFT with the input phase,
    :func:`~lmac_brain.explain.listen.listenable`), which goes through the interpreter's path again (peak
    normalisation, front end, classifier); ``Listen@q`` is the explained class's probability on it. The round
    trip through the waveform smears isolated bins back into their neighbours, so a scattered set of bins does
    not carry the class the way it does as a spectrogram mask. ``scorer`` (default :func:`scoring_model`, not
    compiled) classifies the audio.

    Example
    -------
    >>> from lmac_brain.explain.floors import Energy
    >>> fe, clf = getfixture("tiny_lmac").frontend, getfixture("tiny_lmac").classifier
    >>> rows = listening_rows("Energy", Energy(fe), "demo", [("a", torch.randn(8000), None)], fe, clf, "log1p", 1)
    >>> print(sorted(k for k in rows[0] if k.startswith("Listen")), 0 <= rows[0]["Listen@0.1"] <= 1)
    ['Listen@0.1', 'Listen@0.2'] True
    """
    model = scorer or scoring_model(frontend, classifier)
    rows = []
    for items, wavs, mask, _, logmag, phase in explained(
        name, explainer, f"{set_name} (listening)", dataset, frontend, batch_size
    ):
        with torch.no_grad():
            target = model(logmag).argmax(dim=-1, keepdim=True)
            scores = ranking(explainer, mask, logmag)
            heard = {}
            for q in budgets:
                audio = listenable(frontend, logmag, phase, keep_top(scores, q, seed=seed), wavs.shape[1], mask_domain)
                again = frontend.log_magnitude(peak_normalize(audio))
                heard[q] = model(again).softmax(dim=-1).gather(1, target)[:, 0]
        for i, item in enumerate(items):
            rows.append(
                {
                    "set": set_name,
                    "method": name,
                    "item": item[0],
                    **{f"Listen@{q:g}": float(p[i]) for q, p in heard.items()},
                }
            )
    return rows


def localization_rows(
    name: str,
    explainer,
    dataset,
    frontend: Frontend,
    mask_domain: str,
    batch_size: int,
    threshold: float = 0.5,
    scorer: Optional[Callable] = None,
) -> List[Dict]:
    """Time IoU (thresholded, and at the event's length), pointing game and SI-SDR for a :class:`LocalizationSet`.

    Each item is explained for its event's class where the set gives it (the set's ``targets``; an
    item without one: the classifier's decision). The thresholded IoU and SI-SDR read the soft mask;
    the matched IoU and the pointing game read the explainer's ranking (:func:`ranking`). With a
    ``scorer`` (``log1p|X| -> logits``, :func:`scoring_model`) and the events' classes, the column
    ``Heard (%)`` says whether the classifier's decision on the mixture is the event's class (100) or
    not (0): what a method's pointing is conditioned on.

    Example
    -------
    >>> class Everything:  # keeps the whole input
    ...     def explain(self, wavs): return torch.ones(wavs.shape[0], Frontend().n_frames(wavs.shape[1]), 513)
    >>> items = [("a_loc", torch.randn(8000), torch.randn(8000), (1860, 3720), None)]
    >>> row = localization_rows("all", Everything(), items, Frontend(), "log1p", 1)[0]
    >>> print(round(row["IoU"], 2), row["Pointing"] in (0.0, 100.0))
    0.23 True
    """
    rows = []
    batches = explained(name, explainer, "localization", dataset, frontend, batch_size, target_of=lambda it: it[4])
    for items, wavs, mask, _, logmag, phase in batches:
        events = torch.stack([it[2] for it in items])
        spans = [span_frames(*it[3], frontend.hop_length, mask.shape[1]) for it in items]
        audio = listenable(frontend, logmag, phase, mask, wavs.shape[1], mask_domain)
        scores = ranking(explainer, mask, logmag)  # the ranked measures read the explainer's ranking
        iou, hit, sdr = time_iou(mask, spans, threshold), pointing_game(scores, spans), si_sdr(audio, events)
        matched = matched_time_iou(scores, spans)
        heard = None
        if scorer is not None and all(it[4] is not None for it in items):
            with torch.no_grad():
                heard = scorer(logmag).argmax(dim=-1).eq(torch.tensor([it[4] for it in items]))
        for i, item in enumerate(items):
            row = {
                "set": "localization",
                "method": name,
                "item": item[0],
                "IoU": float(iou[i]),
                "IoU (matched)": float(matched[i]),
                "Pointing": 100.0 * float(hit[i]),
                "SI-SDR": float(sdr[i]),
            }
            if heard is not None:
                row["Heard (%)"] = 100.0 * float(heard[i])
            rows.append(row)
    return rows


def sanity_rows(
    name: str,
    factory: Factory,
    frontend: Frontend,
    classifier: AudioClassifier,
    wavs: torch.Tensor,
    item_ids: Sequence[str],
) -> List[Dict]:
    """Spearman correlation with the trained-model masks after randomising the classifier (set ``sanity``).

    One row per item with two columns: ``Spearman (head)`` after re-initialising only the output layer
    (the explanation must already change: it is of another decision), and ``Spearman (all)`` after
    re-initialising every conv block and the head. Lower means the method depends more on the model.

    Example
    -------
    >>> from lmac_brain.explain.baselines import Saliency
    >>> clf = getfixture("tiny_lmac").classifier
    >>> row = sanity_rows("Saliency", Saliency, Frontend(), clf, torch.randn(1, 8000), ["a"])[0]
    >>> print(row["set"], -1.0 <= row["Spearman (head)"] <= 1.0, -1.0 <= row["Spearman (all)"] <= 1.0)
    sanity True True
    """
    last = randomization_levels(classifier)[-1]  # every layer re-initialised
    corr = randomization_test(lambda clf: factory(frontend, clf), classifier, wavs, levels=["head", last])
    return [
        {
            "set": "sanity",
            "method": name,
            "item": item,
            "Spearman (head)": float(corr["head"][i]),
            "Spearman (all)": float(corr[last][i]),
        }
        for i, item in enumerate(item_ids)
    ]
