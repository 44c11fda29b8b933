#!/usr/bin/env python3
"""Export a finished L-MAC run as an interpreter folder (hub-style), without training or testing again.

Give the same hparams file and overrides as the training command, plus where to write:

    python recipes/ESC50/interpret/export_interpreter.py hparams/lmac_cnn14_cpu.yaml \
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise \
        --export_folder my_interpreter

It loads the run's classifier files, the best checkpoint of its decoder (lowest validation ``select_key``, the
one the training script tested) and its ``results.json`` (metrics and command for the model card), and
writes ``hyperparams.yaml``, the checkpoints, ``label_encoder.txt``, ``metrics.json`` and ``README.md``
into ``export_folder`` (default ``<output_folder>/interpreter``), atomically. The folder loads with
``LMACInterpreter.from_hparams(source=...)`` and ``lmac explain --source``. It works for the custom-data
recipe too (``hparams/lmac_custom_cpu.yaml`` with its overrides).

Authors
 * lmac_brain contributors 2026
"""

import json
import os
import sys

from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.fetching import FetchConfig

from lmac_brain.interface.export import export_lmac_run
from lmac_brain.models.sources import check_pretrainer_paths
from lmac_brain.recipe.experiment import start_experiment


def main(argv):
    hparams, _ = start_experiment(argv)
    results_file = os.path.join(hparams["output_folder"], "results.json")
    if not os.path.isfile(results_file):
        sys.exit(
            f"{results_file} not found: {hparams['output_folder']} holds no finished run (train_lmac.py writes it "
            "after testing). Pass the hparams file and overrides of the training command, and let it finish."
        )
    with open(results_file, encoding="utf-8") as f:
        results = json.load(f)
    check_pretrainer_paths(hparams["pretrainer"], "classifier_source file")
    run_on_main(hparams["pretrainer"].collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
    hparams["pretrainer"].load_collected()
    if hparams["checkpointer"].recover_if_possible(min_key=hparams["select_key"]) is None:
        sys.exit(f"{hparams['save_folder']}: no checkpoint to export.")
    print(export_lmac_run(hparams, results))


if __name__ == "__main__":
    main(sys.argv[1:])
