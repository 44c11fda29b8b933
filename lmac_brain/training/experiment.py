"""The start every recipe shares: command line -> hparams -> experiment folder -> manifests (ESC-50 or your data).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Dict, List, Tuple

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from lmac_brain.data.custom_data import prepare_custom_dataset
from lmac_brain.data.esc50 import prepare_esc50


def start_experiment(argv: List[str]) -> Tuple[dict, dict]:
    """Parse SpeechBrain arguments, join DDP if asked, load the YAML, create the experiment folder.

    Arguments
    ---------
    argv : list of str
        ``[hparams.yaml, --key value, ...]`` as given to a recipe.

    Returns
    -------
    hparams : dict
        The loaded hyperparameters (objects built).
    run_opts : dict
        SpeechBrain run options (device, DDP, debug, ...).

    Example
    -------
    In a recipe (not run as a doctest: it configures SpeechBrain's logging for the process)::

        hparams, run_opts = start_experiment(sys.argv[1:])
        manifests = esc50_manifests(hparams)

    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"], hyperparams_to_save=hparams_file, overrides=overrides
    )
    # SpeechBrain keeps a copy of the module that called it (this one); keep the recipe script too.
    script = os.path.abspath(sys.argv[0])
    if script.endswith(".py") and os.path.isfile(script) and sb.utils.distributed.if_main_process():
        shutil.copy(script, hparams["output_folder"])
    return hparams, run_opts


def esc50_manifests(hparams: dict) -> Dict[str, str]:
    """Run :func:`~lmac_brain.data.esc50.prepare_esc50` on the main process with the YAML's data keys.

    Uses ``data_folder``, ``save_folder``, ``train_folds``, ``valid_folds``, ``test_folds`` and
    ``download``; returns ``{"train", "valid", "test"}`` -> manifest path on every process.
    """
    return run_on_main(
        prepare_esc50,
        kwargs=dict(
            data_folder=hparams["data_folder"],
            save_folder=hparams["save_folder"],
            train_folds=hparams["train_folds"],
            valid_folds=hparams["valid_folds"],
            test_folds=hparams["test_folds"],
            download=hparams["download"],
        ),
    )


def custom_manifests(hparams: dict) -> Dict[str, str]:
    """Run :func:`~lmac_brain.data.custom_data.prepare_custom_dataset` on the main process with the YAML's data keys.

    Uses ``dataset``, ``save_folder``, ``valid_folds``, ``test_folds``, ``split_ratios`` and ``split_seed``;
    returns ``{"train", "valid", "test"}`` -> manifest path on every process.
    """
    return run_on_main(
        prepare_custom_dataset,
        kwargs=dict(
            data=hparams["dataset"],
            save_folder=hparams["save_folder"],
            valid_folds=hparams["valid_folds"],
            test_folds=hparams["test_folds"],
            split_ratios=hparams["split_ratios"],
            seed=hparams["split_seed"],
        ),
    )


def export_lmac_run(hparams: dict, results: dict) -> str:
    """Export the L-MAC of a recipe run as an interpreter folder (``hparams["export_folder"]``).

    Uses the run's collected classifier files and label encoder (``<save_folder>/classifier``), the
    decoder currently in ``hparams["decoder"]`` (the recipes load the best checkpoint first) and the
    run's ``results`` (``title``, ``description``, ``test`` metrics and ``command``, as written to
    ``results.json`` by the training scripts) for the model card. Replaces an existing export.

    Returns
    -------
    str
        The export folder.
    """
    from lmac_brain.interface.export import export_interpreter, model_card
    from lmac_brain.evaluation.metrics import METRIC_NAMES

    card = model_card(
        results["title"], results["description"], {k: v for k, v in results["test"].items() if k in METRIC_NAMES},
        results["command"],
    )
    label_file = os.path.join(hparams["save_folder"], "classifier", "label_encoder.ckpt")  # the collected copy
    return export_interpreter(hparams["export_folder"], hparams["lmac"], label_file, results, card, overwrite=True)
