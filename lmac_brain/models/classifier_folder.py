"""An exported classifier folder as the one source of the classifier's architecture.

A classifier folder (``embedding_model.ckpt``, ``classifier.ckpt``, ``label_encoder.txt``, as written
by :func:`lmac_brain.interface.export.export_classifier` or published as ``speechbrain/cnn14-esc50``)
fixes the CNN14 width, the embedding size, the mel bins, the head and the number of classes. The
configurations that load a classifier build it from the folder with these functions, so no YAML
repeats (and no command line overrides) those numbers::

    embedding_model: !apply:lmac_brain.models.classifier_folder.embedding_model
        [!ref <classifier_source>, !ref <n_mels>]
    head: !apply:lmac_brain.models.classifier_folder.head [!ref <classifier_source>]

The architecture is read off the parameter shapes of the checkpoints, so it works the same for a
folder of this project and for SpeechBrain's public model (whose ``hyperparams.yaml`` names
SpeechBrain's own classes). The weights are then loaded by the configuration's ``Pretrainer``.
``source`` is a local folder or a hub id (fetched through SpeechBrain's ``fetch``); a local-looking
``source`` that does not exist stops with :class:`~lmac_brain.models.sources.SourceNotFoundError`
(:func:`~lmac_brain.models.sources.check_source`) before any fetch, so a mistyped ``classifier_source``
or ``pretrained_source`` fails while the YAML is loaded, naming the path.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any, Dict, NamedTuple

import torch
from speechbrain.lobes.models.ECAPA_TDNN import Classifier as SBClassifierHead
from speechbrain.utils.fetching import fetch

from lmac_brain.models.classifier import BASE_CHANNELS, Cnn14
from lmac_brain.models.sources import check_source


class ClassifierFolderError(ValueError):
    """A classifier folder whose checkpoints do not describe a CNN14 with a supported head."""


class Architecture(NamedTuple):
    """What a classifier folder's checkpoints fix."""

    mel_bins: int
    width: float
    emb_dim: int
    norm_type: str
    n_classes: int
    head_class: str
    head_args: Dict[str, Any]


def _state_dict(source: str, filename: str) -> Dict[str, torch.Tensor]:
    path = os.path.join(source, filename) if os.path.isdir(source) else str(fetch(filename, source=source))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise ClassifierFolderError(
            f"{source}: no {filename}. Give an exported classifier folder (embedding_model.ckpt, classifier.ckpt, "
            "label_encoder.txt), e.g. the export of train_classifier.py or speechbrain/cnn14-esc50."
        ) from err
    except Exception as err:  # torch raises several types for damaged files
        raise ClassifierFolderError(f"{path}: not a readable checkpoint ({err}). Export or copy it again.") from err
    return state


def label_file(source: str) -> str:
    """Local path of the classifier's ``label_encoder.txt`` (in the folder, or fetched for a hub id).

    Raises
    ------
    SourceNotFoundError
        If ``source`` is a local path (not a hub id) that does not exist.
    ClassifierFolderError
        If the folder has no ``label_encoder.txt``.

    Example
    -------
    >>> os.path.basename(label_file(getfixture("tiny_interpreter_folder")))
    'label_encoder.txt'
    """
    source = check_source(source, "classifier folder")
    path = (
        os.path.join(source, "label_encoder.txt")
        if os.path.isdir(source)
        else str(fetch("label_encoder.txt", source=source))
    )
    if not os.path.isfile(path):
        raise ClassifierFolderError(
            f"{source}: no label_encoder.txt; export the classifier folder again (it names the classes)."
        )
    return path


def read_architecture(source: str) -> Architecture:
    """The architecture of the classifier in ``source``, read from its checkpoints' parameter shapes.

    Raises
    ------
    SourceNotFoundError
        If ``source`` is a local path (not a hub id) that does not exist (checked before any fetch).
    ClassifierFolderError
        If a checkpoint is missing or unreadable, or does not hold a CNN14 (any width) and a
        ``torch.nn.Linear`` or SpeechBrain ``Classifier`` head.

    Example
    -------
    >>> from lmac_brain.models.classifier import AudioClassifier
    >>> from lmac_brain.models.frontend import Frontend
    >>> from lmac_brain.interface.export import export_classifier
    >>> enc = getfixture("tmpdir") / "labels.txt"
    >>> _ = enc.write("'dog' => 0\\n'rain' => 1\\n'wind' => 2\\n================\\n'starting_index' => 0\\n")
    >>> clf = AudioClassifier(Cnn14(80, 24, 0.0625, return_reps=True), torch.nn.Linear(24, 3))
    >>> folder = export_classifier(str(getfixture("tmpdir") / "clf"), Frontend(), clf, str(enc), {})
    >>> arch = read_architecture(folder)
    >>> print(arch.width, arch.emb_dim, arch.mel_bins, arch.n_classes, arch.head_class)
    0.0625 24 80 3 torch.nn.Linear
    >>> read_architecture(str(getfixture("tmpdir") / "1234" / "clf"))
    Traceback (most recent call last):
    ...
    lmac_brain.models.sources.SourceNotFoundError: .../1234/clf: classifier folder not found (... has no 1234; ...
    """
    source = check_source(source, "classifier folder")
    stamp = (
        tuple(
            os.stat(os.path.join(source, name)).st_mtime_ns if os.path.isfile(os.path.join(source, name)) else None
            for name in ("embedding_model.ckpt", "classifier.ckpt")
        )
        if os.path.isdir(source)
        else None
    )
    return _read_architecture(source, stamp)


@functools.lru_cache(maxsize=8)
def _read_architecture(source: str, stamp) -> Architecture:
    """:func:`read_architecture`, cached per folder and checkpoint modification times (``stamp``)."""
    emb = _state_dict(source, "embedding_model.ckpt")
    keys = [f"conv_block{i}.conv1.weight" for i in range(1, 7)]
    if "norm0.weight" not in emb or any(k not in emb for k in keys):
        raise ClassifierFolderError(
            f"{source}/embedding_model.ckpt does not hold a CNN14 (no norm0 or conv_block1..6 parameters)."
        )
    channels = [int(emb[k].shape[0]) for k in keys]
    width = channels[4] / BASE_CHANNELS[4]  # the widest block fixes the multiplier most finely
    norm_type = "bn" if "norm0.running_mean" in emb else "ln"
    mel_bins, emb_dim = int(emb["norm0.weight"].shape[0]), channels[5]
    if Cnn14(mel_bins, emb_dim, width, norm_type).channels != channels:
        raise ClassifierFolderError(
            f"{source}/embedding_model.ckpt: block channels {channels} are not those of a CNN14 at any width."
        )
    head = _state_dict(source, "classifier.ckpt")
    if set(head) == {"weight", "bias"} and head["weight"].dim() == 2:
        n_classes = int(head["weight"].shape[0])
        head_class, head_args = "torch.nn.Linear", {"in_features": emb_dim, "out_features": n_classes}
    elif "weight" in head and any(k.startswith("blocks.") for k in head):
        n_classes, lin_neurons = (int(n) for n in head["weight"].shape)
        lin_blocks = (
            max(int(re.match(r"blocks\.(\d+)", k).group(1)) for k in head if k.startswith("blocks.")) + 1
        ) // 2
        head_class = "speechbrain.lobes.models.ECAPA_TDNN.Classifier"
        head_args = {
            "input_size": emb_dim,
            "lin_blocks": lin_blocks,
            "lin_neurons": lin_neurons,
            "out_neurons": n_classes,
        }
    else:
        raise ClassifierFolderError(
            f"{source}/classifier.ckpt holds neither a torch.nn.Linear nor a SpeechBrain Classifier head "
            f"(parameters {sorted(head)[:6]})."
        )
    if head_class == "torch.nn.Linear" and int(head["weight"].shape[1]) != emb_dim:
        raise ClassifierFolderError(
            f"{source}: the head takes {int(head['weight'].shape[1])} features but the CNN14 embeds {emb_dim}."
        )
    return Architecture(mel_bins, width, emb_dim, norm_type, n_classes, head_class, head_args)


def embedding_model(source: str, mel_bins: int) -> Cnn14:
    """A CNN14 (``return_reps=True``, untrained) shaped like the one in ``source``.

    ``mel_bins`` is the configuration's front end's; a folder trained on another number is refused.

    Example
    -------
    >>> embedding_model(getfixture("tiny_interpreter_folder"), 80).emb_dim
    16
    """
    arch = read_architecture(source)
    if arch.mel_bins != mel_bins:
        raise ClassifierFolderError(
            f"{source}: the classifier was trained on {arch.mel_bins} mel bins but the front end makes {mel_bins}; "
            f"set n_mels: {arch.mel_bins}."
        )
    return Cnn14(arch.mel_bins, arch.emb_dim, arch.width, arch.norm_type, return_reps=True)


def embedding_dim(source: str) -> int:
    """The embedding size of the CNN14 in ``source`` (what a new head for it takes).

    Example
    -------
    >>> embedding_dim(getfixture("tiny_interpreter_folder"))
    16
    """
    return read_architecture(source).emb_dim


def head(source: str) -> torch.nn.Module:
    """The classification head of ``source`` (untrained): ``torch.nn.Linear`` or SpeechBrain's ``Classifier``.

    Example
    -------
    >>> head(getfixture("tiny_interpreter_folder"))
    Linear(in_features=16, out_features=2, bias=True)
    """
    arch = read_architecture(source)
    if arch.head_class == "torch.nn.Linear":
        return torch.nn.Linear(**arch.head_args)
    return SBClassifierHead(**arch.head_args)
