"""A SpeechBrain ``EncoderClassifier`` folder as a classifier to explain, built from its own ``hyperparams.yaml``.

SpeechBrain publishes most of its audio classifiers (ECAPA-TDNN and x-vector models for sound events,
language, speakers, emotion; e.g. ``speechbrain/urbansound8k_ecapa``) as folders whose ``hyperparams.yaml``
declares

* ``compute_features`` (e.g. ``speechbrain.lobes.features.Fbank``), waveform -> ``[B, T, n_feats]``;
* ``mean_var_norm`` (``InputNormalization``; optional here, as in a folder that normalises nothing);
* ``embedding_model`` (``ECAPA_TDNN``, ``Xvector``, ...), features -> ``[B, 1, D]``;
* ``classifier``, embedding -> per-class scores ``[B, 1, C]`` (SpeechBrain's cosine ``Classifier`` or a
  softmax head);
* ``label_encoder`` (a ``CategoricalEncoder``) and the ``pretrainer`` that loads the checkpoints.

:func:`load_encoder_classifier` builds exactly that (nothing about the architecture restated here), loads
the weights through the folder's own ``Pretrainer`` and checks what the explainer needs, stopping with
:class:`~lmac_brain.models.encoder_classifier.EncoderFolderError` naming the entry and the file. The
:class:`~lmac_brain.models.encoder_classifier.EncoderClassifierModel` it returns runs the classifier as
SpeechBrain's ``EncoderClassifier.classify_batch`` does (same scores, tested against it).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
import re
from typing import Optional, Tuple

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.fetching import fetch

from lmac_brain.models.encoder_classifier import EncoderClassifierModel, EncoderFolderError
from lmac_brain.models.sources import check_pretrainer_paths, check_source, is_hub_id

#: The entries of ``hyperparams.yaml`` the explainer needs (``mean_var_norm`` is used when present).
REQUIRED = ("compute_features", "embedding_model", "classifier", "label_encoder", "pretrainer")


def hub_subfolder(source: str) -> Optional[Tuple[str, str]]:
    """``(repo, subfolder)`` if ``source`` names a folder inside a hub repository (``owner/name/sub``, where
    ``owner/name`` is a hub id and no such local path exists); None otherwise.

    Example
    -------
    >>> hub_subfolder("someone/lmac-ecapa/classifier"), hub_subfolder("someone/lmac-ecapa")
    (('someone/lmac-ecapa', 'classifier'), None)
    """
    parts = source.split("/")
    if len(parts) < 3 or os.path.exists(source) or not is_hub_id("/".join(parts[:2])):
        return None
    return "/".join(parts[:2]), "/".join(parts[2:])


def _fetch_hub_subfolder(repo: str, sub: str, savedir: Optional[str]) -> str:
    """Fetch a hub subfolder's ``hyperparams.yaml`` and every file its pretrainer loads into one local folder
    (the hub cache's copy of the subfolder, or ``savedir/<sub>``); returns that folder."""
    local_dir = None if savedir is None else os.path.join(savedir, sub)

    def get(name: str) -> str:
        return str(fetch(f"{sub}/{name}", source=repo, savedir=local_dir, save_filename=name))

    folder = os.path.dirname(get("hyperparams.yaml"))
    with open(os.path.join(folder, "hyperparams.yaml"), encoding="utf-8") as f:
        text = f.read()
    overrides = {"pretrained_path": folder} if re.search(r"^pretrained_path\s*:", text, re.M) else {}
    pretrainer = load_hyperpyyaml(text, overrides).get("pretrainer")
    for name in getattr(pretrainer, "loadables", {}):
        given = pretrainer.paths.get(name)
        get(os.path.basename(str(given)) if given is not None else f"{name}.ckpt")
    return folder


def _hparams_file(source: str) -> str:
    if os.path.isdir(source):
        path = os.path.join(source, "hyperparams.yaml")
        if not os.path.isfile(path):
            raise EncoderFolderError(
                f"{source}: no hyperparams.yaml. An EncoderClassifier folder holds hyperparams.yaml (compute_features, "
                "mean_var_norm, embedding_model, classifier, label_encoder, pretrainer) and its .ckpt files."
            )
        return path
    return str(fetch("hyperparams.yaml", source=source))


def load_encoder_classifier(source: str, savedir: Optional[str] = None) -> EncoderClassifierModel:
    """Build and load the classifier of an ``EncoderClassifier`` folder (local, or a hub id) from its own
    ``hyperparams.yaml``.

    The scores times ``logit_scale`` (the folder's key, else :func:`default_logit_scale`) are the logits the
    explainer uses (``model.logit_scale``).

    A top-level ``pretrained_path`` (the hub convention: checkpoints at ``<pretrained_path>/...``) is set to
    ``source``, so a copy of a hub folder loads from where it is; a ``pretrainer`` without ``paths`` loads
    ``<source>/<name>.ckpt``.

    Arguments
    ---------
    source : str
        The folder, a hub id, or a folder inside a hub repository (``owner/name/classifier``: an encoder
        interpreter's classifier on the hub; :func:`hub_subfolder`).
    savedir : str, optional
        Where SpeechBrain's fetch puts (links to) the files; default: its cache.

    Returns
    -------
    EncoderClassifierModel
        In eval mode, its parameters frozen.

    Raises
    ------
    SourceNotFoundError
        A local-looking ``source`` that does not exist.
    EncoderFolderError
        No ``hyperparams.yaml``, a missing entry (named, with the file), a checkpoint that does not load, a model
        that fails on one second of silence, or a ``classifier`` whose scores do not have one value per label of
        ``label_encoder``.
    """
    hub = hub_subfolder(source)
    if hub is not None:  # a folder inside a hub repository (an encoder interpreter's classifier/)
        source = _fetch_hub_subfolder(*hub, savedir)
    source = check_source(source, "EncoderClassifier folder", option="--classifier_source")
    yaml_path = _hparams_file(source)
    with open(yaml_path, encoding="utf-8") as f:
        text = f.read()
    overrides = {"pretrained_path": source} if re.search(r"^pretrained_path\s*:", text, re.M) else {}
    try:
        hparams = load_hyperpyyaml(text, overrides)
    except Exception as err:  # hyperpyyaml raises many types for a class or key it cannot resolve
        raise EncoderFolderError(f"{yaml_path}: cannot be loaded ({type(err).__name__}: {err}).") from err
    modules = dict(hparams.get("modules") or {})
    for name in REQUIRED:
        if hparams.get(name) is None and modules.get(name) is None:
            raise EncoderFolderError(
                f"{yaml_path}: no '{name}' entry. An EncoderClassifier folder declares compute_features, "
                "embedding_model, classifier (per-class scores), label_encoder and the pretrainer that loads them."
            )
    pretrainer = hparams["pretrainer"]
    check_pretrainer_paths(pretrainer, f"{yaml_path} pretrainer path")
    if savedir is not None:
        os.makedirs(savedir, exist_ok=True)
    pretrainer.set_collect_in(savedir)
    try:
        collected = pretrainer.collect_files(default_source=source)
        pretrainer.load_collected()
    except (OSError, ValueError, RuntimeError) as err:
        raise EncoderFolderError(f"{yaml_path}: its pretrainer could not load the checkpoints ({err}).") from err
    part = {name: modules.get(name, hparams.get(name)) for name in REQUIRED}
    encoder = hparams["label_encoder"]
    try:
        labels = [encoder.ind2lab[i] for i in range(len(encoder))]
    except (KeyError, TypeError) as err:
        raise EncoderFolderError(
            f"{yaml_path}: 'label_encoder' has no labels (its pretrainer must load label_encoder.txt)."
        ) from err
    model = EncoderClassifierModel(
        part["compute_features"],
        part["embedding_model"],
        part["classifier"],
        modules.get("mean_var_norm", hparams.get("mean_var_norm")),
        labels,
        int(hparams.get("sample_rate", 16000)),
    ).eval()
    model.logit_scale = float(hparams.get("logit_scale", default_logit_scale(part["classifier"])))
    # the folder's files, by the name the YAML gives them (what a copy of the folder needs)
    model.folder_files = {"hyperparams.yaml": yaml_path}
    for name, path in collected.items():
        given = pretrainer.paths.get(name)
        model.folder_files[os.path.basename(str(given)) if given is not None else f"{name}.ckpt"] = str(path)
    model.requires_grad_(False)
    with torch.no_grad():
        try:
            n_scores = model(torch.zeros(1, model.sample_rate)).shape[1]
        except RuntimeError as err:
            raise EncoderFolderError(
                f"{yaml_path}: the classifier fails on one second of silence ({err}); is every module that keeps "
                "statistics or weights (e.g. a global mean_var_norm) among the pretrainer's loadables?"
            ) from err
    if n_scores != len(labels):
        raise EncoderFolderError(
            f"{yaml_path}: 'classifier' gives {n_scores} scores per input, 'label_encoder' has {len(labels)} labels; "
            "the explainer needs one score per class (the classifier entry must be the classification head)."
        )
    return model


def default_logit_scale(head: torch.nn.Module) -> float:
    """The scale that makes a head's scores logits when its folder does not say (``logit_scale``): 30 for
    SpeechBrain's cosine ``Classifier`` (ECAPA-TDNN; 30 is the scale of SpeechBrain's additive-angular-margin
    loss, which its recipes train these heads with), 1 otherwise (logits or log-probabilities).

    Example
    -------
    >>> from speechbrain.lobes.models.ECAPA_TDNN import Classifier
    >>> default_logit_scale(Classifier(8, out_neurons=3)), default_logit_scale(torch.nn.Linear(8, 3))
    (30.0, 1.0)
    """
    from speechbrain.lobes.models.ECAPA_TDNN import Classifier

    return 30.0 if isinstance(head, Classifier) else 1.0
