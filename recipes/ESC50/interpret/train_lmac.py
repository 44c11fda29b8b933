#!/usr/bin/env python3
"""Train the L-MAC decoder on a frozen classifier (ESC-50), or fine-tune it (FT stage).

Usage (CPU config; the classifier folder comes from train_classifier.py):
    python recipes/ESC50/interpret/train_lmac.py hparams/lmac_cnn14_cpu.yaml \
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise

FT stage (its own config and output folder, starting from the trained decoder):
    python recipes/ESC50/interpret/train_lmac.py hparams/lmac_ft_cnn14_cpu.yaml \
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise \
        --decoder_init results/lmac_cnn14_cpu/1234/decoder.ckpt

At the end the decoder of the best checkpoint is tested on the test fold (noise at 0 dB, deterministic
per clip) and written to ``<output_folder>/decoder.ckpt`` with ``results.json``, and the whole
interpreter (classifier + decoder + labels + model card) to ``<output_folder>/interpreter``, the folder
``LMACInterpreter.from_hparams`` loads; listenable wavs and PNGs are in ``<output_folder>/listen/``.

Authors
 * lmac_brain contributors 2026
"""

import sys

from lmac_brain.recipe.experiment import esc50_manifests, start_experiment
from lmac_brain.recipe.runs import classifier_name, train_lmac


def main(argv):
    hparams, run_opts = start_experiment(argv)
    manifests = esc50_manifests(hparams)

    def describe(condition):
        return {
            "title": (
                f"L-MAC interpreter ({hparams['stage_name']}) for {classifier_name(hparams['classifier'])} on ESC-50"
            ),
            "description": (
                f"Classifier from {hparams['classifier_source']}; decoder trained on folds {hparams['train_folds']}, "
                f"selected on fold {hparams['valid_folds']}; metrics on fold {hparams['test_folds']} with {condition}."
            ),
            "test_folds": hparams["test_folds"],
        }

    train_lmac(hparams, run_opts, manifests, describe)


if __name__ == "__main__":
    main(sys.argv[1:])
