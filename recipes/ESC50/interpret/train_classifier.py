#!/usr/bin/env python3
"""Train (or fine-tune) the CNN14 classifier on ESC-50 and export it as a hub-style folder.

The exported folder (``<output_folder>/classifier`` by default: ``hyperparams.yaml``,
``embedding_model.ckpt``, ``classifier.ckpt``, ``label_encoder.txt``, ``metrics.json``) is what the
L-MAC recipe loads through its ``Pretrainer``.

Usage (CPU config, ESC-50 at 16 kHz):
    python recipes/ESC50/interpret/train_classifier.py hparams/classifier_cnn14_cpu.yaml \
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise

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
from lmac_brain.dataio import classification_datasets, label_encoder_from_manifest
from lmac_brain.experiment import esc50_manifests, start_experiment
from lmac_brain.export import export_classifier
from lmac_brain.noise import NoiseMixer


def main(argv):
    hparams, run_opts = start_experiment(argv)
    manifests = esc50_manifests(hparams)
    label_file = f"{hparams['save_folder']}/label_encoder.txt"
    run_on_main(label_encoder_from_manifest, args=[manifests["train"], label_file])
    label_encoder = label_encoder_from_manifest(manifests["train"], label_file)
    label_encoder.expect_len(hparams["n_classes"])  # clear error if the head size does not match

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
    # The per-update LR schedule decays to zero exactly at the last optimiser step.
    steps_per_epoch = math.ceil(len(datasets["train"]) / hparams["batch_size"])
    hparams["lr_annealing"].num_training_steps = hparams["number_of_epochs"] * steps_per_epoch

    if hparams["pretrainer"] is not None:  # paper-scale config: start from the public checkpoint
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
        "train_folds": hparams["train_folds"],
        "valid_folds": hparams["valid_folds"],
        "test_folds": hparams["test_folds"],
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
