#!/usr/bin/env python3
"""Train the L-MAC decoder on a frozen classifier (ESC-50), or fine-tune it (FT stage).

Usage (CPU config; the classifier folder comes from train_classifier.py):
    python recipes/ESC50/interpret/train_lmac.py hparams/lmac_cnn14_cpu.yaml \
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise

FT stage (new output folder, starting from the trained decoder):
    python recipes/ESC50/interpret/train_lmac.py hparams/lmac_cnn14_cpu.yaml \
        --data_folder ../shared/data/esc50-16k --noise_folder ../shared/data/noise \
        --stage_name ft --ft_weight 4.0 --number_of_epochs 4 --lr 0.0002 \
        --decoder_init results/lmac_cnn14_cpu/1234/decoder.ckpt --output_folder results/lmac_cnn14_cpu_ft/1234

At the end the decoder of the best checkpoint is tested on the test fold (noise at 0 dB, deterministic
per clip) and written to ``<output_folder>/decoder.ckpt`` with ``results.json``, and the whole
interpreter (classifier + decoder + labels + model card) to ``<output_folder>/interpreter``, the folder
``LMACInterpreter.from_hparams`` loads; listenable wavs and PNGs are in ``<output_folder>/listen/``.

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
from lmac_brain.dataio import classification_datasets
from lmac_brain.experiment import esc50_manifests, export_lmac_run, start_experiment
from lmac_brain.export import save_decoder
from lmac_brain.noise import NoiseMixer


def main(argv):
    hparams, run_opts = start_experiment(argv)
    check_stage_folder(hparams["checkpointer"], hparams["stage_name"], hparams["number_of_epochs"])
    manifests = esc50_manifests(hparams)

    run_on_main(hparams["pretrainer"].collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
    hparams["pretrainer"].load_collected()
    hparams["label_encoder"].expect_len(hparams["n_classes"])
    if hparams["decoder_init"] is not None:
        init = Pretrainer(
            collect_in=f"{hparams['save_folder']}/decoder_init",
            loadables={"decoder": hparams["decoder"]},
            paths={"decoder": hparams["decoder_init"]},
        )
        run_on_main(init.collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
        init.load_collected()

    rate = hparams["sample_rate"]
    train_noise = NoiseMixer(hparams["noise_folder"], rate, hparams["noise_snr_db"], seed=hparams["seed"])
    hparams["checkpointer"].add_recoverable("train_noise", train_noise)  # resumed runs draw the same noise
    datasets = classification_datasets(
        manifests,
        hparams["label_encoder"],
        rate,
        train_crop_s=hparams["train_crop_s"],
        train_noise=train_noise,
        train_noise_prob=1.0,
        eval_noise=NoiseMixer(
            hparams["noise_folder"], rate, hparams["noise_snr_db"], seed=hparams["seed"], deterministic=True
        ),
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

    decoder_params = sum(p.numel() for p in hparams["decoder"].parameters())
    condition = f"noise at {hparams['noise_snr_db']} dB from {hparams['noise_folder']}"
    results = {
        "title": f"L-MAC interpreter ({hparams['stage_name']}) for CNN14 width {hparams['width']} on ESC-50",
        "description": (
            f"Classifier from {hparams['classifier_source']}; decoder trained on folds {hparams['train_folds']}, "
            f"selected on fold {hparams['valid_folds']}; metrics on fold {hparams['test_folds']} with {condition}."
        ),
        "stage": hparams["stage_name"],
        "test_folds": hparams["test_folds"],
        "condition": condition,
        "test": brain.test_stats,
        "epochs": epochs_trained,
        "selected_epoch": hparams["epoch_counter"].current,
        "train_seconds_this_invocation": round(train_seconds, 1),
        "decoder_params": decoder_params,
        "command": " ".join(["python"] + sys.argv),
    }
    if sb.utils.distributed.if_main_process():
        save_decoder(hparams["output_folder"], hparams["decoder"], results)
        export_lmac_run(hparams, results)

if __name__ == "__main__":
    main(sys.argv[1:])
