#!/usr/bin/env python3
"""Train (or fine-tune) the CNN14 classifier on ESC-50 and export it as a hub-style folder.

The exported folder (``<output_folder>/classifier`` by default: ``hyperparams.yaml``,
``embedding_model.ckpt``, ``classifier.ckpt``, ``label_encoder.txt``, ``metrics.json``) is what the
L-MAC recipe loads through its ``Pretrainer``; ``metrics.json`` holds accuracy, balanced accuracy,
per-class recall and the test confusion matrix (also ``confusion_matrix.png``), see
:func:`lmac_brain.recipe.runs.train_classifier`.

Usage (CPU config, ESC-50 at 16 kHz):
    python recipes/ESC50/interpret/train_classifier.py hparams/classifier_cnn14_cpu.yaml \
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise

Re-running the same command resumes from the last checkpoint; after the last epoch it only re-tests
and re-exports.

Authors
 * lmac_brain contributors 2026
"""

import sys

from lmac_brain.recipe.experiment import esc50_manifests, start_experiment
from lmac_brain.recipe.runs import train_classifier


def main(argv):
    hparams, run_opts = start_experiment(argv)
    manifests = esc50_manifests(hparams)
    folds = {key: hparams[key] for key in ("train_folds", "valid_folds", "test_folds")}
    train_classifier(hparams, run_opts, manifests, folds)


if __name__ == "__main__":
    main(sys.argv[1:])
