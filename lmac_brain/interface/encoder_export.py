"""Export a trained encoder classifier (ECAPA-TDNN, x-vector) as a SpeechBrain ``EncoderClassifier`` folder.

The folder is what SpeechBrain publishes on its hub and what
``speechbrain.inference.classifiers.EncoderClassifier.from_hparams`` loads with no overrides:
``hyperparams.yaml`` (``compute_features``, ``mean_var_norm``, ``embedding_model``, ``classifier``,
``label_encoder``, ``modules``, a ``pretrainer`` without paths) beside ``embedding_model.ckpt``,
``classifier.ckpt`` and ``label_encoder.ckpt``, plus ``metrics.json``. The parts are written as the model
was built (:func:`~lmac_brain.models.encoder_classifier.build_encoder_classifier`: each part's class and
arguments), so nothing about the architecture is restated. ``logit_scale`` (the scale the head's scores were
trained with) is an extra key that SpeechBrain ignores and the explainer reads.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Mapping

import torch

from lmac_brain.atomic import atomic_folder, write_text
from lmac_brain.interface.export import check_input_normalization, render_template
from lmac_brain.models.encoder_classifier import EncoderClassifierModel

EXPORT_FILES = ("hyperparams.yaml", "embedding_model.ckpt", "classifier.ckpt", "label_encoder.ckpt", "metrics.json")
"""What :func:`export_encoder_classifier` writes."""


def encoder_hparams_yaml(model: EncoderClassifierModel, logit_scale: float) -> str:
    """The ``hyperparams.yaml`` text of an exported encoder classifier built with ``build_encoder_classifier``.

    Example
    -------
    >>> from lmac_brain.models.encoder_classifier import build_encoder_classifier
    >>> model = build_encoder_classifier(
    ...     {"class": "speechbrain.lobes.features.Fbank", "args": {"n_mels": 20}},
    ...     {"class": "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN", "args": {"input_size": 20, "lin_neurons": 8}},
    ...     {"class": "speechbrain.lobes.models.ECAPA_TDNN.Classifier", "args": {"input_size": 8, "out_neurons": 3}})
    >>> text = encoder_hparams_yaml(model, 30.0)
    >>> print("embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN" in text,
    ...       "logit_scale: 30.0" in text)
    True True
    """
    if model.spec is None:
        raise ValueError(
            "Only a model built with build_encoder_classifier (its parts' classes and arguments known) can be "
            "exported; a folder loaded with load_encoder_classifier is already one."
        )
    parts, names = "", []
    for name in ("compute_features", "mean_var_norm", "embedding_model", "classifier"):
        if name not in model.spec:
            continue
        part = model.spec[name]
        args = "".join(f"    {key}: {json.dumps(value)}\n" for key, value in part["args"].items())
        parts += f"{name}: !new:{part['class']}\n{args}"
        names.append(name)
    modules = "".join(f"    {name}: !ref <{name}>\n" for name in names)
    return render_template(
        "encoder_classifier",
        sample_rate=model.sample_rate,
        logit_scale=json.dumps(float(logit_scale)),
        parts=parts,
        modules=modules,
    )


def export_encoder_classifier(
    out_dir: str,
    model: EncoderClassifierModel,
    label_encoder_file: str,
    metrics: Mapping[str, Any],
    logit_scale: float = 1.0,
    overwrite: bool = False,
) -> str:
    """Write ``model`` as an ``EncoderClassifier`` folder (assembled aside and renamed into place; an existing
    folder is replaced only with ``overwrite=True``). Returns the folder's absolute path.

    Arguments
    ---------
    out_dir : str
        Destination folder.
    model : EncoderClassifierModel
        Built with :func:`~lmac_brain.models.encoder_classifier.build_encoder_classifier` and trained.
    label_encoder_file : str
        The label encoder of the training (CategoricalEncoder's text format).
    metrics : mapping
        Stored as ``metrics.json``.
    logit_scale : float
        The scale of the head's scores in training.
    overwrite : bool
        Replace an existing ``out_dir``.
    """
    text = encoder_hparams_yaml(model, logit_scale)
    with atomic_folder(out_dir, overwrite) as tmp_dir:
        torch.save(model.embedding_model.state_dict(), os.path.join(tmp_dir, "embedding_model.ckpt"))
        torch.save(model.classifier.state_dict(), os.path.join(tmp_dir, "classifier.ckpt"))
        shutil.copyfile(label_encoder_file, os.path.join(tmp_dir, "label_encoder.ckpt"))
        write_text(os.path.join(tmp_dir, "metrics.json"), json.dumps(dict(metrics), indent=2))
        write_text(os.path.join(tmp_dir, "hyperparams.yaml"), text)
    return os.path.abspath(out_dir)


def encoder_interpreter_yaml(lmac, input_normalization: str = "peak") -> str:
    """``hyperparams.yaml`` of an exported L-MAC interpreter of an encoder classifier (template
    ``templates/encoder_interpreter.yaml``): the classifier is built from the folder's ``classifier/``
    subfolder (its own ``hyperparams.yaml``), the decoder from its options."""
    from lmac_brain.models.frame_decoder import FrameDecoder

    check_input_normalization(input_normalization)
    if not isinstance(lmac.decoder, FrameDecoder):
        raise TypeError(f"An encoder classifier's interpreter has a FrameDecoder, got {type(lmac.decoder).__name__}.")
    return render_template(
        "encoder_interpreter",
        input_normalization=input_normalization,
        sample_rate=lmac.classifier.model.sample_rate,
        logit_scale=json.dumps(lmac.classifier.logit_scale),
        decoder_args="".join(f"    {k}: {json.dumps(v)}\n" for k, v in lmac.decoder.config().items()),
        mask_domain=lmac.mask_domain,
        threshold=json.dumps(lmac.threshold),
        rank_power=json.dumps(lmac.rank_power),
    )


def export_encoder_interpreter(
    out_dir: str,
    lmac,
    metrics: Mapping[str, Any],
    model_card: str,
    overwrite: bool = False,
    input_normalization: str = "peak",
) -> str:
    """Write a trained L-MAC of an encoder classifier as a folder that ``LMACInterpreter.from_hparams`` loads:
    ``hyperparams.yaml``, ``decoder.ckpt``, ``metrics.json``, ``README.md`` (the model card) and ``classifier/``,
    a copy of the classifier's ``EncoderClassifier`` folder (its files as the classifier was loaded from them).
    Assembled aside and renamed into place; an existing folder is replaced only with ``overwrite=True``."""
    files = lmac.classifier.model.folder_files
    if not files:
        raise ValueError(
            "The classifier was not loaded from an EncoderClassifier folder (load_encoder_classifier): export it "
            "first (export_encoder_classifier) and train L-MAC on that folder."
        )
    text = encoder_interpreter_yaml(lmac, input_normalization)
    with atomic_folder(out_dir, overwrite) as tmp_dir:
        os.makedirs(os.path.join(tmp_dir, "classifier"))
        for name, path in files.items():
            shutil.copyfile(path, os.path.join(tmp_dir, "classifier", name))
        torch.save(lmac.decoder.state_dict(), os.path.join(tmp_dir, "decoder.ckpt"))
        write_text(os.path.join(tmp_dir, "metrics.json"), json.dumps(dict(metrics), indent=2))
        write_text(os.path.join(tmp_dir, "README.md"), model_card)
        write_text(os.path.join(tmp_dir, "hyperparams.yaml"), text)
    return os.path.abspath(out_dir)
