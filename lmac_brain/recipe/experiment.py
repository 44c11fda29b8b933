"""The start every recipe shares: command line -> hparams -> experiment folder -> manifests (ESC-50 or your data),
and the command line as the runs record it (:func:`command_line`).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from lmac_brain.data.custom_data import prepare_custom_dataset
from lmac_brain.data.esc50 import prepare_esc50
from lmac_brain.recipe.variants import config_text


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """The command that ran this process, quoted so that it can be pasted into a shell (``shlex.join``).

    What the recipes record as ``command`` in ``results.json`` / ``metrics.json`` and under "Produced by"
    in the model card. Arguments with spaces, braces or quotes (``--loss_weights "{w_in: 4.0, w_out: 1.0}"``)
    keep their quoting, so that ``shlex.split`` (or a shell) gives back the same arguments.

    Arguments
    ---------
    argv : sequence of str, optional
        The script and its arguments; default ``sys.argv``.

    Returns
    -------
    str
        ``python`` followed by the quoted arguments.

    Example
    -------
    >>> print(command_line(["train.py", "h.yaml", "--loss_weights", "{w_in: 4.0, w_out: 1.0}", "--lr", "0.001"]))
    python train.py h.yaml --loss_weights '{w_in: 4.0, w_out: 1.0}' --lr 0.001
    >>> shlex.split(command_line(["a.py", "--name", "it's"]))
    ['python', 'a.py', '--name', "it's"]
    """
    return shlex.join(["python", *(sys.argv if argv is None else argv)])


def start_experiment(argv: List[str]) -> Tuple[dict, dict]:
    """Parse SpeechBrain arguments, join DDP if asked, load the YAML (a variant through its base:
    :func:`~lmac_brain.recipe.variants.config_text`), create the experiment folder.

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
    text = config_text(hparams_file)  # a variant (base: ...) becomes its base with the variant's keys
    hparams = load_hyperpyyaml(text, overrides)
    with tempfile.TemporaryDirectory() as tmp:  # the run folder's hyperparams.yaml: the whole config
        whole = os.path.join(tmp, os.path.basename(hparams_file))
        with open(whole, "w", encoding="utf-8") as fout:
            fout.write(text)
        sb.create_experiment_directory(
            experiment_directory=hparams["output_folder"], hyperparams_to_save=whole, overrides=overrides
        )
    # SpeechBrain keeps a copy of the module that called it (this one); keep the recipe script too.
    script = os.path.abspath(sys.argv[0])
    if script.endswith(".py") and os.path.isfile(script) and sb.utils.distributed.if_main_process():
        shutil.copy(script, hparams["output_folder"])
    return hparams, run_opts


#: YAML keys that the data preparations read: argument name -> hparams key.
ESC50_KEYS = {
    key: key for key in ("data_folder", "save_folder", "train_folds", "valid_folds", "test_folds", "download")
}
CUSTOM_KEYS = {
    "data": "dataset",
    "save_folder": "save_folder",
    "valid_folds": "valid_folds",
    "test_folds": "test_folds",
    "split_ratios": "split_ratios",
    "seed": "split_seed",
}


def esc50_manifests(hparams: dict) -> Dict[str, str]:
    """Run :func:`~lmac_brain.data.esc50.prepare_esc50` on the main process with the YAML's data keys.

    Uses the keys of ``ESC50_KEYS``; returns ``{"train", "valid", "test"}`` -> manifest path on every process.
    """
    return run_on_main(prepare_esc50, kwargs={arg: hparams[key] for arg, key in ESC50_KEYS.items()})


def custom_manifests(hparams: dict) -> Dict[str, str]:
    """Run :func:`~lmac_brain.data.custom_data.prepare_custom_dataset` on the main process with the YAML's data keys.

    Uses the keys of ``CUSTOM_KEYS`` (``dataset``, ``split_seed``, ...); returns ``{"train", "valid", "test"}``
    -> manifest path on every process.
    """
    return run_on_main(prepare_custom_dataset, kwargs={arg: hparams[key] for arg, key in CUSTOM_KEYS.items()})
