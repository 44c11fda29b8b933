#!/usr/bin/env python3
"""Fine-tune a classifier on your own labelled audio and export it as a hub-style folder: the CNN14
(``hparams/finetune_classifier_cpu.yaml``) or a SpeechBrain EncoderClassifier such as a hub ECAPA-TDNN
(``hparams/finetune_encoder_cpu.yaml``, re-headed for your classes by :mod:`lmac_brain.models.encoder_finetune`).

The data are a folder with one sub-folder per class or a ``path,label[,fold]`` CSV
(:mod:`lmac_brain.data.custom_data`). The embedding model starts from an exported classifier folder
(``pretrained_source``, default: the shipped ESC-50 model); the head is new, with one output per class
of the data. The exported folder (``<output_folder>/classifier``) is what
``recipes/custom/interpret/train_lmac.py`` explains. Imbalanced classes are named in a warning and, by
default (``class_balance: auto``), sampled class-balanced; the checkpoint is selected on balanced accuracy,
and ``metrics.json`` reports it beside accuracy, with per-class recall and the test confusion matrix.

Usage (CPU configs):
    python recipes/custom/interpret/train_classifier.py hparams/finetune_classifier_cpu.yaml \
        --dataset my_sounds
    python recipes/custom/interpret/train_classifier.py hparams/finetune_encoder_cpu.yaml \
        --dataset my_sounds --pretrained_source speechbrain/urbansound8k_ecapa

Re-running the same command resumes from the last checkpoint; after the last epoch it only re-tests
and re-exports.

Authors
 * lmac_brain contributors 2026
"""

import sys

from lmac_brain.data.custom_data import split_description
from lmac_brain.recipe.experiment import custom_manifests, start_experiment
from lmac_brain.recipe.runs import train_classifier


def main(argv):
    hparams, run_opts = start_experiment(argv)
    manifests = custom_manifests(hparams)
    data_info = {
        "dataset": hparams["dataset"],
        "split": split_description(
            hparams["valid_folds"], hparams["test_folds"], hparams["split_ratios"], hparams["split_seed"]
        ),
        "pretrained_source": hparams["pretrained_source"],
    }
    train_classifier(hparams, run_opts, manifests, data_info)


if __name__ == "__main__":
    main(sys.argv[1:])
