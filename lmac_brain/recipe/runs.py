"""The training runs the recipes wire: a classifier, and an L-MAC decoder on a frozen classifier.

The recipe scripts (ESC-50 and your own data) differ only in how they prepare manifests and describe
the data; everything between the manifests and the exported folder is here, once:

- :func:`train_classifier`: label encoder from the training manifest, optional real-noise mixing,
  class-balanced sampling when the training classes are imbalanced (``class_balance``), optional
  external weights (``pretrainer``), ``ClassifierBrain`` fit / test on the checkpoint of best balanced
  accuracy, export of a hub-style classifier folder with the test confusion matrix (JSON and PNG);
- :func:`train_lmac`: classifier files collected and checked against the data's classes, optional
  decoder initialisation (FT stage), optional real-noise mixing (random at training, deterministic at
  validation and test), ``LMACBrain`` fit / test on the checkpoint of lowest validation ``select_key``, then
  ``decoder.ckpt``, ``results.json`` and the interpreter folder.

Every model source (the classifier files, ``decoder_init``) is checked with
:func:`lmac_brain.models.sources.check_source` before SpeechBrain fetches it, so a mistyped local path
stops with its name rather than in ``huggingface_hub``.

The training noise mixer is registered with the checkpointer, and the YAML's ``rng`` recoverable holds
the global generators, so that a killed run resumes exactly (:mod:`lmac_brain.training.rng`).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Dict, Optional, Tuple

import speechbrain as sb
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.fetching import FetchConfig
from speechbrain.utils.parameter_transfer import Pretrainer

from lmac_brain.data.custom_data import check_classifier_classes
from lmac_brain.data.dataio import classification_datasets, label_encoder_from_manifest
from lmac_brain.data.event_mix import EventMixer
from lmac_brain.data.manifests import read_table
from lmac_brain.data.noise import NoiseMixer
from lmac_brain.interface.encoder_export import export_encoder_classifier
from lmac_brain.interface.export import export_classifier, export_lmac_run, save_decoder
from lmac_brain.interface.folder_checks import load_checked
from lmac_brain.models.classifier_folder import read_architecture
from lmac_brain.models.encoder_classifier import EncoderAudioClassifier
from lmac_brain.models.sources import check_pretrainer_paths, check_source
from lmac_brain.recipe.experiment import command_line
from lmac_brain.training.brain import LMACBrain, check_select_key, check_stage_folder
from lmac_brain.training.class_balance import (
    balanced_sampler,
    class_counts,
    confusion_report,
    plot_confusion,
    use_balanced_sampling,
)
from lmac_brain.training.classifier_brain import ClassifierBrain
from lmac_brain.training.rng import own_generator
from lmac_brain.training.schedule import Schedule

logger = logging.getLogger(__name__)


def _noise(hparams: dict, snr_db) -> Tuple[Optional[NoiseMixer], Optional[NoiseMixer]]:
    """Training and evaluation noise mixers of ``hparams["noise_folder"]`` (None, None without one)."""
    folder = hparams["noise_folder"]
    if not folder:
        return None, None
    train = NoiseMixer(folder, hparams["sample_rate"], snr_db, seed=hparams["seed"])
    hparams["checkpointer"].add_recoverable("train_noise", train)  # resumed runs draw the same noise
    return train, NoiseMixer(folder, hparams["sample_rate"], snr_db, seed=hparams["seed"], deterministic=True)


def _brain(brain_class: type, hparams: dict, run_opts: dict):
    """The recipe's Brain: ``brain_class`` over the YAML's modules, optimiser class and checkpointer."""
    return brain_class(
        modules=hparams["modules"],
        opt_class=hparams["opt_class"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )


def train_classifier(hparams: dict, run_opts: dict, manifests: Dict[str, str], data_info: dict) -> dict:
    """Train, select (best validation balanced accuracy), test and export a classifier; returns its metrics.

    ``data_info`` (folds, dataset, split, ...) is added to the metrics written into the export. The
    metrics hold accuracy and balanced accuracy (validation and test), the test recall of each class and
    the test confusion matrix (also drawn in ``confusion_matrix.png`` beside ``metrics.json``), and the
    training classes' clip counts. ``hparams["class_balance"]`` (``auto``, ``on``, ``off``) decides on
    class-balanced sampling (:func:`lmac_brain.training.class_balance.use_balanced_sampling`).
    """
    label_file = f"{hparams['save_folder']}/label_encoder.txt"
    run_on_main(label_encoder_from_manifest, args=[manifests["train"], label_file])
    label_encoder = label_encoder_from_manifest(manifests["train"], label_file)
    label_encoder.expect_len(hparams["n_classes"])  # clear error if the head size does not match the data

    noise, _ = _noise(hparams, tuple(hparams["noise_snr_db"]))
    datasets = classification_datasets(
        manifests,
        label_encoder,
        hparams["sample_rate"],
        train_crop_s=hparams["train_crop_s"],
        train_noise=noise,
        train_noise_prob=hparams["noise_prob"],
    )
    with datasets["train"].output_keys_as(["label"]):
        train_labels = [item["label"] for item in datasets["train"]]
    counts = class_counts(train_labels)
    train_loader_kwargs = own_generator(hparams["train_dataloader_opts"])
    sampler = None
    if use_balanced_sampling(counts, hparams["class_balance"]):
        sampler = balanced_sampler(train_labels, hparams["seed"])
        train_loader_kwargs.pop("shuffle", None)
        train_loader_kwargs["sampler"] = sampler
    # The per-update LR schedule decays to zero exactly at the last optimiser step.
    steps_per_epoch = math.ceil(len(datasets["train"]) / hparams["batch_size"])
    hparams["lr_annealing"].num_training_steps = hparams["number_of_epochs"] * steps_per_epoch
    if hparams["pretrainer"] is not None:  # external weights (hub model, or the embedding to fine-tune)
        check_pretrainer_paths(hparams["pretrainer"], "pretrained_source file")
        run_on_main(hparams["pretrainer"].collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
        load_checked(hparams["pretrainer"])

    brain = _brain(ClassifierBrain, hparams, run_opts)
    # SpeechBrain calls set_epoch on brain.train_sampler (so each epoch draws anew) only for samplers it
    # makes itself; under DDP it wraps this one and forwards set_epoch.
    brain.train_sampler = sampler
    brain.fit(
        hparams["epoch_counter"],
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=train_loader_kwargs,
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    epochs_trained = hparams["epoch_counter"].current
    selected = brain.checkpointer.find_checkpoint(max_key="bal_acc")
    if selected is None:
        raise RuntimeError(
            f"{brain.checkpointer.checkpoints_dir} holds no end-of-epoch checkpoint with a validation 'bal_acc' "
            "(checkpoints of an older version of this recipe select on 'acc'): train into a new --output_folder."
        )
    selected = selected.meta
    brain.evaluate(datasets["test"], max_key="bal_acc", test_loader_kwargs=hparams["test_dataloader_opts"])
    classes = label_encoder.decode_ndim(list(range(len(label_encoder))))
    test = confusion_report(brain.test_confusion, classes)
    metrics = {
        "valid_acc": selected["acc"],
        "valid_bal_acc": selected["bal_acc"],
        "test_acc": test["acc"],
        "test_bal_acc": test["bal_acc"],
        "test_per_class_recall": test["per_class_recall"],
        "test_confusion": test["confusion"],
        "selection": "best validation bal_acc (balanced accuracy)",
        "epochs": epochs_trained,
        "selected_epoch": hparams["epoch_counter"].current,
        "classes": classes,
        "clips": {split: len(dataset) for split, dataset in datasets.items()},
        "train_class_counts": counts,
        "class_balanced_sampling": sampler is not None,
        **data_info,
        "command": command_line(),
    }
    if sb.utils.distributed.if_main_process():
        classifier = hparams["classifier"]
        if isinstance(classifier, EncoderAudioClassifier):  # a SpeechBrain EncoderClassifier folder
            export_encoder_classifier(
                hparams["export_folder"],
                classifier.model,
                label_file,
                metrics,
                classifier.logit_scale,
                overwrite=hparams["overwrite_export"],
            )
        else:
            export_classifier(
                hparams["export_folder"],
                hparams["frontend"],
                classifier,
                label_file,
                metrics,
                hparams["overwrite_export"],
            )
        plot_confusion(f"{hparams['export_folder']}/confusion_matrix.png", brain.test_confusion, classes)
    return metrics


def classifier_name(classifier) -> str:
    """What a model card calls the explained classifier: ``CNN14 width 0.25``, or an encoder's class name.

    Example
    -------
    >>> import torch
    >>> from lmac_brain.models.classifier import AudioClassifier, Cnn14
    >>> classifier_name(AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 2)))
    'CNN14 width 0.0625'
    """
    if isinstance(classifier, EncoderAudioClassifier):
        return f"{type(classifier.embedding_model).__name__} (SpeechBrain EncoderClassifier)"
    return f"CNN14 width {classifier.embedding_model.width}"


def _save_labels(label_encoder, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    label_encoder.save(path)


def train_lmac(hparams: dict, run_opts: dict, manifests: Dict[str, str], describe) -> dict:
    """Train, select (lowest validation ``select_key``), test and export an L-MAC decoder; returns ``results``.

    ``describe(condition) -> dict`` gives the dataset-specific entries of ``results``: at least
    ``title`` and ``description`` of the model card (``condition`` says which noise the metrics used).
    """
    # A mistyped local path stops here with its name, not in huggingface_hub (lmac_brain.models.sources).
    if hparams["decoder_init"] is not None:
        hparams["decoder_init"] = check_source(
            hparams["decoder_init"], "decoder checkpoint", option="--decoder_init", file=True
        )
    pretrainer = hparams["pretrainer"]  # None: the classifier loaded itself (an EncoderClassifier folder)
    if pretrainer is not None:
        check_pretrainer_paths(pretrainer, "classifier_source file")
    check_stage_folder(hparams["checkpointer"], hparams["stage_name"], hparams["number_of_epochs"])
    check_select_key(hparams)
    label_file = f"{hparams['save_folder']}/classifier/label_encoder.ckpt"
    if pretrainer is not None:
        # overwrite=True: the collected files follow classifier_source even if an earlier run in this folder
        # collected another classifier.
        run_on_main(pretrainer.collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
    else:
        run_on_main(_save_labels, args=[hparams["label_encoder"], label_file])
    check_classifier_classes(label_file, manifests, hparams["classifier_source"])
    if pretrainer is not None:
        load_checked(pretrainer)
        # the folder's label encoder names every output of its head
        hparams["label_encoder"].expect_len(read_architecture(hparams["classifier_source"]).n_classes)
    if hparams["decoder_init"] is not None:
        init = Pretrainer(
            collect_in=f"{hparams['save_folder']}/decoder_init",
            loadables={"decoder": hparams["decoder"]},
            paths={"decoder": hparams["decoder_init"]},
        )
        run_on_main(init.collect_files, kwargs={"fetch_config": FetchConfig(overwrite=True)})
        load_checked(init)  # the same kind of decoder as the config's (a mismatch names the differing keys)
    train_noise, eval_noise = _noise(hparams, hparams["noise_snr_db"])
    # a share of the clips over another training clip instead of noise (the config's share, or a phase's)
    schedule = Schedule(hparams["schedule"]) if hparams.get("schedule") is not None else None
    shares = (
        [hparams["event_mix_share"]]
        if schedule is None
        else schedule.values("event_mix_share", hparams["event_mix_share"])
    )
    if any(float(share) > 0 for share in shares):
        rows = read_table(
            manifests["train"], ["ID", "wav"], "the train manifest does not exist.", "Expected ID,wav columns."
        )
        train_noise = EventMixer(
            [r["wav"] for r in rows],
            train_noise,
            hparams["event_mix_share"],
            tuple(hparams["event_mix_snr_db"]),
            hparams["sample_rate"],
            hparams["seed"],
            ids=[r["ID"] for r in rows],
        )
        hparams["checkpointer"].add_recoverable("train_event_mix", train_noise)
    datasets = classification_datasets(
        manifests,
        hparams["label_encoder"],
        hparams["sample_rate"],
        train_crop_s=hparams["train_crop_s"],
        train_noise=train_noise,
        train_noise_prob=1.0,
        eval_noise=eval_noise,
        with_clean=hparams["ft_weight"] > 0,
    )
    brain = _brain(LMACBrain, hparams, run_opts)
    if isinstance(train_noise, EventMixer):
        brain.event_mixer = train_noise  # a phase of the schedule may set its share
    start = time.time()
    brain.fit(
        hparams["epoch_counter"],
        datasets["train"],
        datasets["valid"],
        train_loader_kwargs=own_generator(hparams["train_dataloader_opts"]),
        valid_loader_kwargs=hparams["valid_dataloader_opts"],
    )
    train_seconds = time.time() - start
    epochs_trained = hparams["epoch_counter"].current
    brain.evaluate(datasets["test"], min_key=hparams["select_key"], test_loader_kwargs=hparams["test_dataloader_opts"])

    condition = (
        f"noise at {hparams['noise_snr_db']} dB from {hparams['noise_folder']}"
        if hparams["noise_folder"]
        else "clean clips"
    )
    if isinstance(train_noise, EventMixer):
        share = "/".join(f"{float(v):g}" for v in shares) + (" (by schedule phase)" if len(shares) > 1 else "")
        condition += (
            f" ({share} of training clips mixed over another training clip at {hparams['event_mix_snr_db']} dB instead)"
        )
    results = {
        **describe(condition),
        "stage": hparams["stage_name"],
        "condition": condition,
        "test": brain.test_stats,
        "epochs": epochs_trained,
        "selected_epoch": hparams["epoch_counter"].current,
        "train_seconds_this_invocation": round(train_seconds, 1),
        "decoder_params": sum(p.numel() for p in hparams["decoder"].parameters()),
        "command": command_line(),
    }
    if sb.utils.distributed.if_main_process():
        save_decoder(hparams["output_folder"], hparams["decoder"], results)
        export_lmac_run(hparams, results)
    return results
