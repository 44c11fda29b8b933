"""A SpeechBrain ``EncoderClassifier`` folder with a new head for your labels (fine-tuning a hub classifier).

A published classifier (e.g. ``speechbrain/urbansound8k_ecapa``) knows its own classes; to explain it on yours
it is fine-tuned with a head of one output per class of your data. :func:`reheaded_encoder` loads the folder
(:func:`~lmac_brain.models.encoder_folder.load_encoder_classifier`: its features, normalisation and embedding
model with their weights), reads each part's class and arguments from the folder's ``hyperparams.yaml``
(:func:`folder_spec`) and builds the same kind of head with ``out_neurons`` set to your number of classes. The
model keeps the parts as ``spec``, so the fine-tuned classifier exports as an ``EncoderClassifier`` folder
(:func:`~lmac_brain.interface.encoder_export.export_encoder_classifier`) that SpeechBrain and L-MAC load.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional

import ruamel.yaml
from hyperpyyaml import resolve_references
from ruamel.yaml.constructor import SafeConstructor

from lmac_brain.models.encoder_classifier import EncoderClassifierModel, EncoderFolderError, build_part
from lmac_brain.models.encoder_folder import load_encoder_classifier

#: The parts of a folder that a fine-tuned copy is built from (``mean_var_norm`` when present).
PARTS = ("compute_features", "mean_var_norm", "embedding_model", "classifier")


class _Other:
    """A value the spec cannot hold (a ``!name:``/``!apply:`` object or a positional ``!new:``), by its tag."""

    def __init__(self, tag: str):
        self.tag = tag


class _SpecConstructor(SafeConstructor):
    """YAML constructor that reads ``!new:module.Class`` mappings as ``{"class", "args"}`` and keeps every
    other tag as :class:`_Other`."""


def _new(loader, suffix, node):
    if isinstance(node, ruamel.yaml.MappingNode):
        return {"class": suffix, "args": loader.construct_mapping(node, deep=True)}
    return _Other(f"!new:{suffix} (positional arguments)")


_SpecConstructor.add_multi_constructor("!new:", _new)
_SpecConstructor.add_multi_constructor("!", lambda loader, suffix, node: _Other(f"!{suffix}"))


def _plain(value: Any) -> Optional[str]:
    """The tag of the first value in ``value`` that is not plain data (None if all are)."""
    if isinstance(value, _Other):
        return value.tag
    if isinstance(value, dict) and "class" in value and "args" in value:
        return f"!new:{value['class']}"
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((tag for tag in map(_plain, items) if tag is not None), None)


def folder_spec(text: str, overrides: Optional[Mapping[str, Any]] = None) -> Dict[str, Dict[str, Any]]:
    """Each part's class and arguments (``{"class": "module.Class", "args": {...}}``) as an ``EncoderClassifier``
    folder's ``hyperparams.yaml`` declares them, references resolved; a part missing from the file is absent.

    Raises
    ------
    EncoderFolderError
        A part whose arguments are not plain values (an object built by another tag): it could not be written
        back into an exported folder.

    Example
    -------
    >>> text = '''
    ... n_mels: 40
    ... compute_features: !new:speechbrain.lobes.features.Fbank
    ...     n_mels: !ref <n_mels>
    ... classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    ...     input_size: 192
    ...     out_neurons: 10
    ... '''
    >>> spec = folder_spec(text)
    >>> spec["compute_features"], spec["classifier"]["args"]["out_neurons"]
    ({'class': 'speechbrain.lobes.features.Fbank', 'args': {'n_mels': 40}}, 10)
    """
    yaml = ruamel.yaml.YAML(typ="safe", pure=True)
    yaml.Constructor = _SpecConstructor
    data = yaml.load(resolve_references(text, dict(overrides or {})).getvalue()) or {}
    modules = data.get("modules") if isinstance(data.get("modules"), dict) else {}
    spec = {}
    for name in PARTS:
        part = data.get(name, modules.get(name))
        if part is None:
            continue
        tag = _plain(part.get("args")) if isinstance(part, dict) and "class" in part else getattr(part, "tag", "?")
        if tag is not None:
            raise EncoderFolderError(
                f"'{name}' is built with {tag}; a fine-tuned copy is exported with each part as a class and plain "
                "arguments (!new:module.Class with keyword values), so this folder cannot be re-headed."
            )
        spec[name] = {"class": part["class"], "args": dict(part["args"])}
    return spec


def reheaded_encoder(source: str, n_classes: int, savedir: Optional[str] = None) -> EncoderClassifierModel:
    """The classifier of an ``EncoderClassifier`` folder with a new head of ``n_classes`` outputs, trainable.

    The features, ``mean_var_norm`` and the embedding model (with its weights) are the folder's; the head is the
    folder's kind of head (its class and arguments) with ``out_neurons: n_classes``, newly initialised.

    Arguments
    ---------
    source : str
        The folder or a hub id (``speechbrain/urbansound8k_ecapa``).
    n_classes : int
        Classes of your data.
    savedir : str, optional
        Where SpeechBrain's fetch puts (links to) the files; default: its cache.

    Raises
    ------
    EncoderFolderError
        What :func:`~lmac_brain.models.encoder_folder.load_encoder_classifier` raises; a part that is not a class
        with plain arguments (:func:`folder_spec`); a head without ``out_neurons``; a ``mean_var_norm`` that
        keeps statistics (``norm_type`` other than ``sentence``), which the export would lose.
    """
    model = load_encoder_classifier(source, savedir)
    yaml_path = model.folder_files["hyperparams.yaml"]
    with open(yaml_path, encoding="utf-8") as f:
        text = f.read()
    overrides = {"pretrained_path": source} if re.search(r"^pretrained_path\s*:", text, re.M) else {}
    try:
        spec = folder_spec(text, overrides)
    except EncoderFolderError as err:
        raise EncoderFolderError(f"{yaml_path}: {err}") from err
    head = spec["classifier"]
    if "out_neurons" not in head["args"]:
        raise EncoderFolderError(
            f"{yaml_path}: 'classifier' ({head['class']}) has no out_neurons argument; the new head for your "
            "classes is the folder's head with out_neurons set to their number."
        )
    norm = spec.get("mean_var_norm", {"args": {}})["args"].get("norm_type", "sentence")
    if norm != "sentence":
        raise EncoderFolderError(
            f"{yaml_path}: 'mean_var_norm' has norm_type {norm!r}, whose statistics the exported folder would not "
            "keep; only per-input ('sentence') normalisation can be fine-tuned here."
        )
    head["args"]["out_neurons"] = int(n_classes)
    model.classifier = build_part("classifier", head)
    model.spec, model.labels = spec, []
    model.folder_files = {}  # no longer the folder's model
    return model.requires_grad_(True)
