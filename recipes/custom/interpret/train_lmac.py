#!/usr/bin/env python3
"""Train the L-MAC decoder on a frozen classifier fine-tuned on your own data (or its FT stage).

The classifier folder comes from ``recipes/custom/interpret/train_classifier.py`` on the same data and
split; its classes must be those of the data (checked before loading).

Usage (CPU config):
    python recipes/custom/interpret/train_lmac.py hparams/lmac_custom_cpu.yaml \
        --dataset my_sounds --classifier_source results/finetune_classifier_cpu/1234/classifier

Add ``--noise_folder FOLDER`` to train and test on clips mixed with real noise (as the ESC-50 recipe);
the FT stage takes the same options as the ESC-50 recipe (``--stage_name ft --ft_weight 4.0
--decoder_init <output_folder>/decoder.ckpt`` and a new ``--output_folder``).

At the end the decoder of the best checkpoint is tested on the test split and written to
``<output_folder>/decoder.ckpt`` with ``results.json``, and the whole interpreter to
``<output_folder>/interpreter``, the folder ``LMACInterpreter.from_hparams`` and ``lmac explain
--source`` load; listenable wavs and PNGs are in ``<output_folder>/listen/``.

Authors
 * lmac_brain contributors 2026
"""

import sys
import time

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.fetching import FetchConfig
from speechbrain.utils.parameter_transfer import Pretrainer

from lmac_brain.brain import LMACBrain, check_stage_folder
from lmac_brain.custom_data import check_classifier_classes, split_description
from lmac_brain.dataio import classification_datasets
from lmac_brain.experiment import custom_manifests, export_lmac_run, start_experiment
from lmac_brain.export import save_decoder
from lmac_brain.noise import NoiseMixer


def main(argv):
    hparams, run_opts = start_experiment(argv)
    check_stage_folder(hparams["checkpointer"], hparams["stage_name"], hparams["number_of_epochs"])
    manifests = custom_manifests(hparams)

    # overwrite=True: the collected files follow classifier_source even if an earlier run in this folder
    # (e.g. one stopped by the class check below) collected another classifier.
    run_on_main(hparams["pretrainer"].collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
    label_file = f"{hparams['save_folder']}/classifier/label_encoder.ckpt"  # the collected copy
    check_classifier_classes(label_file, manifests, hparams["classifier_source"])
    hparams["pretrainer"].load_collected()
    hparams["label_encoder"].expect_len(hparams["n_classes"])
    if hparams["decoder_init"] is not None:
        init = Pretrainer(
            collect_in=f"{hparams['save_folder']}/decoder_init",
            loadables={"decoder": hparams["decoder"]},
            paths={"decoder": hparams["decoder_init"]},
        )
        run_on_main(init.collect_files)
        init.load_collected()

    rate, noise_folder = hparams["sample_rate"], hparams["noise_folder"]
    train_noise = eval_noise = None
    if noise_folder:
        train_noise = NoiseMixer(noise_folder, rate, hparams["noise_snr_db"], seed=hparams["seed"])
        hparams["checkpointer"].add_recoverable("train_noise", train_noise)  # resumed runs draw the same noise
        eval_noise = NoiseMixer(noise_folder, rate, hparams["noise_snr_db"], seed=hparams["seed"], deterministic=True)
    datasets = classification_datasets(
        manifests,
        hparams["label_encoder"],
        rate,
        train_crop_s=hparams["train_crop_s"],
        train_noise=train_noise,
        train_noise_prob=1.0,
        eval_noise=eval_noise,
        with_clean=hparams["ft_weight"] > 0,
    )

    brain = LMACBrain(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    start = time.time()
    brain.fit(
        hparams["epoch_counter"],
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=hparams["train_dataloader_opts"],
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    train_seconds = time.time() - start
    epochs_trained = hparams["epoch_counter"].current
    brain.evaluate(datasets["test"], min_key="loss", test_loader_kwargs=hparams["test_dataloader_opts"])

    split = split_description(
        hparams["valid_folds"], hparams["test_folds"], hparams["split_ratios"], hparams["split_seed"]
    )
    condition = f"noise at {hparams['noise_snr_db']} dB from {noise_folder}" if noise_folder else "clean clips"
    results = {
        "title": f"L-MAC interpreter ({hparams['stage_name']}) for CNN14 width {hparams['width']} on {hparams['dataset']}",
        "description": (
            f"Classifier from {hparams['classifier_source']}; decoder trained and tested on {hparams['dataset']} "
            f"({split}), on {condition}. Classes: {', '.join(hparams['label_encoder'].lab2ind)}."
        ),
        "stage": hparams["stage_name"],
        "dataset": hparams["dataset"],
        "split": split,
        "condition": condition,
        "test": brain.test_stats,
        "epochs": epochs_trained,
        "selected_epoch": hparams["epoch_counter"].current,
        "train_seconds_this_invocation": round(train_seconds, 1),
        "decoder_params": sum(p.numel() for p in hparams["decoder"].parameters()),
        "command": " ".join(["python"] + sys.argv),
    }
    if sb.utils.distributed.if_main_process():
        save_decoder(hparams["output_folder"], hparams["decoder"], results)
        export_lmac_run(hparams, results)

if __name__ == "__main__":
    main(sys.argv[1:])
