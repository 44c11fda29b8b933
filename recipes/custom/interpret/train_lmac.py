#!/usr/bin/env python3
"""Train the L-MAC decoder on a frozen classifier fine-tuned on your own data (or its FT stage).

The classifier folder comes from ``recipes/custom/interpret/train_classifier.py`` on the same data and
split; its classes must be those of the data (checked before loading).

Usage (CPU config):
    python recipes/custom/interpret/train_lmac.py hparams/lmac_custom_cpu.yaml \
        --dataset my_sounds --classifier_source results/finetune_classifier_cpu/1234/classifier

Add ``--noise_folder FOLDER`` to train and test on clips mixed with real noise (as the ESC-50 recipe);
the FT stage has its own config, ``hparams/lmac_ft_custom_cpu.yaml`` (same options, plus
``--decoder_init <lmac output_folder>/decoder.ckpt``).

At the end the decoder of the best checkpoint is tested on the test split and written to
``<output_folder>/decoder.ckpt`` with ``results.json``, and the whole interpreter to
``<output_folder>/interpreter``, the folder ``LMACInterpreter.from_hparams`` and ``lmac explain
--source`` load; listenable wavs and PNGs are in ``<output_folder>/listen/``.

Authors
 * lmac_brain contributors 2026
"""

import sys

from lmac_brain.data.custom_data import split_description
from lmac_brain.recipe.experiment import custom_manifests, start_experiment
from lmac_brain.recipe.runs import classifier_name, train_lmac


def main(argv):
    hparams, run_opts = start_experiment(argv)
    manifests = custom_manifests(hparams)
    split = split_description(
        hparams["valid_folds"], hparams["test_folds"], hparams["split_ratios"], hparams["split_seed"]
    )

    def describe(condition):
        return {
            "title": (
                f"L-MAC interpreter ({hparams['stage_name']}) for {classifier_name(hparams['classifier'])} "
                f"on {hparams['dataset']}"
            ),
            "description": (
                f"Classifier from {hparams['classifier_source']}; decoder trained and tested on {hparams['dataset']} "
                f"({split}), on {condition}. Classes: {', '.join(hparams['label_encoder'].lab2ind)}."
            ),
            "dataset": hparams["dataset"],
            "split": split,
        }

    train_lmac(hparams, run_opts, manifests, describe)


if __name__ == "__main__":
    main(sys.argv[1:])
