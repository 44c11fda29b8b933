"""An exported L-MAC interpreter as the subject of an evaluation recipe (``recipes/custom/interpret/eval.py``).

The interpreter folder written by a training run (``<output_folder>/interpreter``) holds everything that
explains: front end, frozen classifier, decoder (of whatever kind its ``hyperparams.yaml`` builds), mask
domain and budget ranking. :func:`load_interpreter` loads it with
:meth:`~lmac_brain.interface.interpreter.LMACInterpreter.from_hparams` (folder checks, checkpoints that fit)
and checks that it belongs to the data to evaluate on: the same classes, and, where the folder records
it (``metrics.json``, written by the recipes), the same split, so that its test split holds no clip the
decoder was trained or selected on. :func:`lmac_factory` makes its L-MAC an explainer factory of
:mod:`lmac_brain.evaluation.evaluate`, beside the baselines.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import Mapping, Optional, Tuple

from lmac_brain.data.custom_data import manifest_classes
from lmac_brain.evaluation.evaluate import Factory, lmac_explainer
from lmac_brain.explain.lmac import LMAC
from lmac_brain.interface.interpreter import LMACInterpreter

logger = logging.getLogger(__name__)

#: The input normalisation of every evaluation set (clips peak-normalised, as the recipes train on them).
EVALUATED_NORMALIZATION = "peak"


def check_recorded_split(recorded: Mapping[str, object], split: str, source: str) -> None:
    """Raise unless the split a training run recorded (``recorded["split"]``, if any) is ``split``.

    Arguments
    ---------
    recorded : mapping
        The interpreter folder's ``metrics.json`` (the training run's ``results``); without a ``split``
        entry nothing is checked.
    split : str
        The evaluation's split (:func:`lmac_brain.data.custom_data.split_description`).
    source : str
        The interpreter folder (named in the error).

    Raises
    ------
    ValueError
        If the splits differ: the evaluation's test clips could be clips the decoder learned from.

    Example
    -------
    >>> check_recorded_split({"split": "seed 1"}, "seed 1", "interp/")
    >>> check_recorded_split({}, "seed 1", "interp/")  # nothing recorded: nothing to check
    >>> check_recorded_split({"split": "seed 1"}, "seed 2", "interp/")
    Traceback (most recent call last):
    ...
    ValueError: The interpreter in interp/ was trained on the split 'seed 1', but this evaluation ...
    """
    trained = recorded.get("split")
    if trained is not None and trained != split:
        raise ValueError(
            f"The interpreter in {source} was trained on the split {trained!r}, but this evaluation splits the "
            f"data as {split!r}: its test clips could be clips the decoder was trained or selected on. Pass the "
            "split options of the training run (split_ratios, split_seed, valid_folds, test_folds)."
        )


def _recorded(source: str) -> dict:
    """The interpreter folder's ``metrics.json`` ({} for a hub id or a folder without one)."""
    path = os.path.join(source, "metrics.json")
    if not os.path.isfile(path):
        logger.info("%s has no metrics.json: the training split cannot be compared with the evaluation's.", source)
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_interpreter(
    source: str, manifests: Mapping[str, str], split: str, dataset: Optional[str] = None
) -> Tuple[LMAC, dict]:
    """Load an exported interpreter to evaluate on the data of ``manifests``; return its L-MAC and records.

    Arguments
    ---------
    source : str
        Interpreter folder (``LMACInterpreter.from_hparams``; nothing is written).
    manifests : mapping
        Split -> manifest of the data (``label`` column): the classifier must know exactly their classes.
    split : str
        The evaluation's split description, compared with the one the folder records
        (:func:`check_recorded_split`).
    dataset : str, optional
        The evaluation's data; a warning is logged if the folder records other data.

    Returns
    -------
    lmac : LMAC
        The interpreter's L-MAC (front end, frozen classifier in eval mode, decoder), in eval mode.
    recorded : dict
        The folder's ``metrics.json`` ({} where there is none).

    Raises
    ------
    ValueError
        If the classes or the recorded split differ, or the interpreter normalises its inputs otherwise
        than the evaluation sets (peak normalisation).

    Example
    -------
    >>> folder = str(getfixture("tiny_interpreter_folder"))  # classes dog and rain
    >>> tmp = getfixture("tmpdir")
    >>> _ = (tmp / "test.csv").write("ID,label\\na,dog\\nb,rain\\n")
    >>> lmac, recorded = load_interpreter(folder, {"test": str(tmp / "test.csv")}, "seed 1")
    >>> print(type(lmac).__name__, lmac.training, lmac.mask_domain, recorded)
    LMAC False log1p {}
    >>> _ = (tmp / "test.csv").write("ID,label\\na,dog\\nb,wind\\n")
    >>> load_interpreter(folder, {"test": str(tmp / "test.csv")}, "seed 1")
    Traceback (most recent call last):
    ...
    ValueError: The interpreter in ... explains a classifier of the classes ['dog', 'rain'] but the data have ...
    """
    interp = LMACInterpreter.from_hparams(source=source)
    known, data = sorted(interp.class_names), manifest_classes(manifests)
    if known != data:
        raise ValueError(
            f"The interpreter in {source} explains a classifier of the classes {known} but the data have {data}: "
            "evaluate it on the data it was trained on (the same dataset and split options as train_lmac.py)."
        )
    if interp.input_normalization != EVALUATED_NORMALIZATION:
        raise ValueError(
            f"{source}/hyperparams.yaml sets input_normalization: {interp.input_normalization}, but the evaluation "
            f"sets are {EVALUATED_NORMALIZATION}-normalised, as the recipes train on them."
        )
    recorded = _recorded(source) if os.path.isdir(source) else {}
    check_recorded_split(recorded, split, source)
    trained_on = recorded.get("dataset")
    if dataset is not None and trained_on is not None and os.path.realpath(trained_on) != os.path.realpath(dataset):
        logger.warning(
            "%s records the dataset %s; evaluating on %s (the same data moved, or other data?).",
            source,
            trained_on,
            dataset,
        )
    return interp.mods.lmac.eval(), recorded


def lmac_factory(lmac: LMAC) -> Factory:
    """An explainer factory ``f(frontend, classifier)`` of ``lmac``'s decoder, mask domain and budget ranking.

    The explanations are those of :func:`~lmac_brain.evaluation.evaluate.lmac_explainer` (soft masks, ranked by
    :meth:`~lmac_brain.explain.lmac.LMAC.rank_scores`), the L-MAC of ``recipes/ESC50/interpret/eval.py``.

    Example
    -------
    >>> import torch
    >>> lmac = getfixture("tiny_lmac")
    >>> explainer = lmac_factory(lmac)(lmac.frontend, lmac.classifier)
    >>> print(explainer.decoder is lmac.decoder, explainer.explain(torch.randn(1, 8000)).shape)
    True torch.Size([1, 44, 513])
    """
    return functools.partial(
        lmac_explainer, decoder=lmac.decoder, mask_domain=lmac.mask_domain, rank_power=lmac.rank_power
    )
