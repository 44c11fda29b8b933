#!/usr/bin/env python3
"""Fine-tune a CNN14 classifier on your own labelled audio and export it as a hub-style folder.

The data are a folder with one sub-folder per class or a ``path,label[,fold]`` CSV
(:mod:`lmac_brain.custom_data`). The embedding model starts from an exported classifier folder
(``pretrained_source``, default: the shipped ESC-50 model); the head is new, with one output per class
of the data. The exported folder (``<output_folder>/classifier``) is what
``recipes/custom/interpret/train_lmac.py`` explains.

Usage (CPU config):
    python recipes/custom/interpret/train_classifier.py hparams/finetune_classifier_cpu.yaml \
        --dataset my_sounds

Re-running the same command resumes from the last checkpoint; after the last epoch it only re-tests
and re-exports.

Authors
 * lmac_brain contributors 2026
"""

import math
import sys

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.fetching import FetchConfig

from lmac_brain.classifier_brain import ClassifierBrain
from lmac_brain.custom_data import split_description
from lmac_brain.dataio import classification_datasets, label_encoder_from_manifest
from lmac_brain.experiment import custom_manifests, start_experiment
from lmac_brain.export import export_classifier
from lmac_brain.noise import NoiseMixer


def main(argv):
    hparams, run_opts = start_experiment(argv)
    manifests = custom_manifests(hparams)
    label_file = f"{hparams['save_folder']}/label_encoder.txt"
    run_on_main(label_encoder_from_manifest, args=[manifests["train"], label_file])
    label_encoder = label_encoder_from_manifest(manifests["train"], label_file)
    label_encoder.expect_len(hparams["n_classes"])  # the head was sized from the data

    noise = None
    if hparams["noise_folder"]:
        noise = NoiseMixer(
            hparams["noise_folder"], hparams["sample_rate"], tuple(hparams["noise_snr_db"]), seed=hparams["seed"]
        )
        hparams["checkpointer"].add_recoverable("train_noise", noise)  # resumed runs draw the same noise
    datasets = classification_datasets(
        manifests,
        label_encoder,
        hparams["sample_rate"],
        train_crop_s=hparams["train_crop_s"],
        train_noise=noise,
        train_noise_prob=hparams["noise_prob"],
    )
    steps_per_epoch = math.ceil(len(datasets["train"]) / hparams["batch_size"])
    hparams["lr_annealing"].num_training_steps = hparams["number_of_epochs"] * steps_per_epoch

    # Embedding model only: the head of the source classifier knows other classes. overwrite=True re-links
    # the collected file when pretrained_source changed since an earlier run in this folder.
    run_on_main(hparams["pretrainer"].collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
    hparams["pretrainer"].load_collected()

    brain = ClassifierBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    brain.fit(
        brain.hparams.epoch_counter,
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    epochs_trained = hparams["epoch_counter"].current
    valid_acc = brain.checkpointer.find_checkpoint(max_key="acc").meta["acc"]
    brain.evaluate(datasets["test"], max_key="acc", test_loader_kwargs=hparams["test_dataloader_opts"])

    metrics = {
        "valid_acc": valid_acc,
        "test_acc": brain.test_stats["acc"],
        "epochs": epochs_trained,
        "selected_epoch": hparams["epoch_counter"].current,
        "classes": label_encoder.decode_ndim(list(range(len(label_encoder)))),
        "dataset": hparams["dataset"],
        "split": split_description(
            hparams["valid_folds"], hparams["test_folds"], hparams["split_ratios"], hparams["split_seed"]
        ),
        "clips": {split: len(dataset) for split, dataset in datasets.items()},
        "pretrained_source": hparams["pretrained_source"],
        "command": " ".join(["python"] + sys.argv),
    }
    if sb.utils.distributed.if_main_process():
        export_classifier(
            hparams["export_folder"],
            hparams["frontend"],
            hparams["classifier"],
            label_file,
            metrics,
            overwrite=hparams["overwrite_export"],
        )


if __name__ == "__main__":
    main(sys.argv[1:])
