"""Check an exported model folder before SpeechBrain loads it, so that a damaged folder gives a clear error.

SpeechBrain's ``Pretrained.from_hparams`` links the files of a local ``source`` into its ``savedir``
and loads them through a ``Pretrainer``. When a file is missing or damaged, the error it raises names
the cache path rather than the folder the user gave (``FileNotFoundError: .../cache/decoder.ckpt``) or
does not name a file at all (``UnpicklingError: Weights only load failed ... Unsupported operand``).
:func:`check_interpreter_folder` reads the ``hyperparams.yaml`` of a local folder, finds the files it
loads from ``<pretrained_path>/...`` and checks each of them first, raising
:class:`ModelFolderError` with the folder, the file, the problem and what to do. Once the model is
built, :func:`check_state_dict_fits` checks that each checkpoint fits its module (PyTorch's own
``size mismatch`` error names neither the file nor which model the shapes belong to).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from typing import List

import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from lmac_brain.data.files import PathLike
from lmac_brain.models.sources import check_source

logger = logging.getLogger(__name__)


#: How ``hyperparams.yaml`` of an exported folder refers to the files it loads.
_FILE_REF = re.compile(r"!ref\s+<(?:pretrained_path|source)>/([^\s\[\],]+)")

#: Module paths that folders exported before lmac_brain had sub-packages name, and their homes now.
OLD_MODULE_PATHS = {
    "lmac_brain.frontend.": "lmac_brain.models.frontend.",
    "lmac_brain.classifier.": "lmac_brain.models.classifier.",
    "lmac_brain.decoder.": "lmac_brain.models.decoder.",
    "lmac_brain.lmac.": "lmac_brain.explain.lmac.",
}

#: Decoder options that lmac_brain no longer has: the classifier's blocks 2 and 1 in the decoder's head
#: (``early_channels``) and the class's evidence map and FiLM in a conditional decoder's features
#: (``class_features``).
REMOVED_DECODER_OPTIONS = ("early_channels", "class_features")

_REPAIR = (
    "Re-export the folder (export_interpreter, or the recipe that wrote it) or copy the file again from "
    "the original folder."
)


class ModelFolderError(ValueError):
    """Raised when an exported model folder is incomplete or holds a damaged file.

    The message names the folder and the file, says what is wrong and what to do.
    """


def referenced_files(hparams_text: str) -> List[str]:
    """Names of the files that an exported ``hyperparams.yaml`` loads from its own folder, in order.

    Arguments
    ---------
    hparams_text : str
        Contents of ``hyperparams.yaml``; files are found as ``!ref <pretrained_path>/NAME`` (interpreter
        folders) or ``!ref <source>/NAME`` (classifier folders).

    Returns
    -------
    list of str
        File names relative to the folder, without duplicates.

    Example
    -------
    >>> referenced_files("paths:\\n    decoder: !ref <pretrained_path>/decoder.ckpt\\n    x: !ref <source>/l.txt\\n")
    ['decoder.ckpt', 'l.txt']
    >>> referenced_files("encoder: !apply:f [!ref <pretrained_path>/classifier]\\n")  # a folder (an encoder's)
    ['classifier']
    """
    names: List[str] = []
    for name in _FILE_REF.findall(hparams_text):
        if name not in names:
            names.append(name)
    return names


def check_checkpoint(path: str, folder: str) -> None:
    """Raise :class:`ModelFolderError` unless ``path`` is a readable PyTorch state dict.

    The file is read as SpeechBrain reads it (``torch.load`` with ``weights_only=True``), on the CPU.

    Arguments
    ---------
    path : str
        The checkpoint file.
    folder : str
        The model folder it belongs to (named in the message).

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "bad.ckpt")
    >>> _ = open(path, "wb").write(b"garbage")
    >>> check_checkpoint(path, "model")
    Traceback (most recent call last):
    ...
    lmac_brain.interface.folder_checks.ModelFolderError: ...bad.ckpt: corrupt checkpoint in model folder model ...
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for damaged files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFolderError(
            f"{path}: corrupt checkpoint in model folder {folder} (torch.load failed: {reason[:200]}). "
            f"The file was damaged or cut while it was written or copied. {_REPAIR}"
        ) from err
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ModelFolderError(
            f"{path}: not a state dict (a mapping of parameter names to tensors) but a "
            f"{type(state).__name__}, in model folder {folder}. {_REPAIR}"
        )


def check_label_encoder(path: str, folder: str) -> None:
    """Raise :class:`ModelFolderError` unless ``path`` is a readable, non-empty ``label_encoder.txt``.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "label_encoder.txt")
    >>> _ = open(path, "w").write("'dog' => 0\\n'rain' => 1\\n================\\n'starting_index' => 0\\n")
    >>> check_label_encoder(path, "model")
    """
    encoder = CategoricalEncoder()
    try:
        encoder.load(path)
    except Exception as err:  # CategoricalEncoder parses Python literals line by line
        raise ModelFolderError(
            f"{path}: not a readable label encoder ({type(err).__name__}: {str(err)[:200]}) in model folder "
            f"{folder}. It must list one \"'label' => index\" line per class. {_REPAIR}"
        ) from err
    if len(encoder) == 0:
        raise ModelFolderError(f"{path}: the label encoder lists no classes (model folder {folder}). {_REPAIR}")


def _shape(tensor: torch.Tensor) -> str:
    return "[" + ", ".join(str(n) for n in tensor.shape) + "]"


def check_state_dict_fits(module: torch.nn.Module, path: PathLike, origin: str) -> None:
    """Raise :class:`ModelFolderError` unless the state dict in ``path`` fits ``module`` exactly.

    Every parameter and buffer of ``module`` must be in the checkpoint with the same shape, and the
    checkpoint must hold nothing else. SpeechBrain's loader would stop at the first shape with
    PyTorch's ``size mismatch`` error, which names neither file nor model, and would only log a
    warning for missing weights (leaving them random).

    Arguments
    ---------
    module : torch.nn.Module
        The module that ``hyperparams.yaml`` built for the checkpoint.
    path : str or os.PathLike
        Where the checkpoint is read from (possibly a link in a ``savedir``).
    origin : str
        The file as the user knows it (in the model folder or on the hub), named in the message.

    Raises
    ------
    ModelFolderError
        Naming ``origin``, the module, each mismatched entry with both shapes, and what to do.

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "classifier.ckpt")
    >>> torch.save(torch.nn.Linear(16, 3).state_dict(), path)
    >>> check_state_dict_fits(torch.nn.Linear(16, 3), path, "model/classifier.ckpt")
    >>> check_state_dict_fits(torch.nn.Linear(16, 2), path, "model/classifier.ckpt")
    Traceback (most recent call last):
    ...
    lmac_brain.interface.folder_checks.ModelFolderError: model/classifier.ckpt: does not fit the Linear that ...
    """
    state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    expected = module.state_dict()
    problems = [
        f"{key} is {_shape(state[key])} in the file but {_shape(value)} in the model"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing:
        problems.append(f"missing from the file: {', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"not in the model: {', '.join(unexpected[:5])}{', ...' if len(unexpected) > 5 else ''}")
    if problems:
        raise ModelFolderError(
            f"{origin}: does not fit the {type(module).__name__} that hyperparams.yaml builds: {'; '.join(problems)}. "
            "The checkpoint and hyperparams.yaml come from different models (e.g. another number of classes "
            f"or another width). {_REPAIR}"
        )


def check_module_paths(hparams_text: str, hparams_path: str) -> None:
    """Refuse a ``hyperparams.yaml`` that names module paths lmac_brain no longer has, saying how to fix it.

    Folders exported before lmac_brain had sub-packages name ``!new:lmac_brain.decoder.LMACDecoder``
    and the like (:data:`OLD_MODULE_PATHS`); their weights are still good. The folder is the user's, so it
    is not rewritten here: the error says which paths to replace (one ``sed`` command).

    Example
    -------
    >>> check_module_paths("decoder: !new:lmac_brain.models.decoder.LMACDecoder", "hyperparams.yaml")
    >>> check_module_paths("decoder: !new:lmac_brain.decoder.LMACDecoder", "old/hyperparams.yaml")
    Traceback (most recent call last):
    ...
    lmac_brain.interface.folder_checks.ModelFolderError: old/hyperparams.yaml: names module paths of lmac_brain ...
    """
    old = [path for path in OLD_MODULE_PATHS if re.search(r"(?<![\w.])" + re.escape(path), hparams_text)]
    if old:
        renames = ", ".join(f"{path} -> {OLD_MODULE_PATHS[path]}" for path in old)
        script = "; ".join(f"s/{re.escape(path)}/{OLD_MODULE_PATHS[path]}/g" for path in old)
        raise ModelFolderError(
            f"{hparams_path}: names module paths of lmac_brain before its sub-packages ({renames}). The weights "
            f"are still good: replace those paths in the file, or re-export the folder. In a shell:\n"
            f"    sed -i.bak {shlex.quote(script)} {shlex.quote(hparams_path)}"
        )


def check_removed_options(hparams_text: str, hparams_path: str) -> None:
    """Refuse a ``hyperparams.yaml`` whose decoder names options lmac_brain no longer has, saying how to fix it.

    Folders exported before :data:`REMOVED_DECODER_OPTIONS` were removed name them. Where they hold what the
    decoder now always does (``early_channels: 0``; ``class_features: false``, or ``true`` in an unconditional
    decoder, where it did nothing), the weights are still good and the error says which lines to delete (one
    ``sed`` command). Otherwise the folder holds a decoder that this version cannot build.

    Example
    -------
    >>> check_removed_options("decoder:\\n    fine_channels: 8\\n    conditional: true\\n", "hyperparams.yaml")
    >>> check_removed_options("decoder:\\n    early_channels: 0\\n    class_features: false\\n", "old/hyperparams.yaml")
    Traceback (most recent call last):
    ...
    lmac_brain.interface.folder_checks.ModelFolderError: old/hyperparams.yaml: names decoder options ...
    """
    names = "|".join(REMOVED_DECODER_OPTIONS)
    found = dict(re.findall(rf"(?m)^[ \t]+({names}):[ \t]*(\S+)", hparams_text))
    if not found:
        return
    conditional = re.search(r"(?m)^[ \t]+conditional:[ \t]*(\S+)", hparams_text)
    conditional = conditional is not None and conditional.group(1).lower() == "true"
    kept = found.get("early_channels", "0") == "0" and (
        found.get("class_features", "false").lower() == "false" or not conditional
    )
    listed = ", ".join(f"{name}: {value}" for name, value in found.items())
    if not kept:
        raise ModelFolderError(
            f"{hparams_path}: its decoder uses options that lmac_brain no longer has ({listed}; "
            "class_features: true in a conditional decoder, or early_channels > 0), so this version cannot build "
            "it. Load the folder with an earlier lmac_brain, or train and export a decoder of a current kind."
        )
    script = rf"/^[[:space:]]+({names}):/d"
    raise ModelFolderError(
        f"{hparams_path}: names decoder options that lmac_brain no longer has ({listed}). Their values are what "
        f"the decoder now always does, so the weights are still good: delete those lines, or re-export the "
        f"folder. In a shell:\n    sed -i.bak -E {shlex.quote(script)} {shlex.quote(hparams_path)}"
    )


def check_interpreter_folder(source: PathLike, hparams_file: str = "hyperparams.yaml") -> None:
    """Check a local model folder before ``from_hparams`` loads it; hub ids are left to SpeechBrain.

    First, a local-looking ``source`` must be an existing folder
    (:func:`~lmac_brain.models.sources.check_source`: a mistyped path stops here rather than in
    ``huggingface_hub``). Then checks that ``hparams_file`` exists and names current module paths
    (:func:`check_module_paths`) and decoder options (:func:`check_removed_options`), and that every file
    it loads from the folder (``!ref <pretrained_path>/NAME`` or ``!ref <source>/NAME``) exists, is not
    empty, and can be read: ``.ckpt`` files as PyTorch state dicts, ``label_encoder.txt`` as a label
    encoder. Whether the shapes match the model is checked once it is built (:func:`check_state_dict_fits`,
    called by ``LMACInterpreter.from_hparams``, and ``LMACInterpreter``'s class-count check).

    Arguments
    ---------
    source : str or os.PathLike
        What ``from_hparams`` was given: a local folder (checked) or a hub id (nothing to do).
    hparams_file : str
        Name of the hyperparameter file in the folder.

    Raises
    ------
    SourceNotFoundError
        ``source`` is a local path (not a hub id) that does not exist, or a file.
    ModelFolderError
        Naming the folder and the file, the problem, and what to do.

    Example
    -------
    >>> from pathlib import Path
    >>> folder = Path(getfixture("tmpdir")) / "interp"
    >>> _ = folder.mkdir()
    >>> _ = (folder / "hyperparams.yaml").write_text("decoder_path: !ref <pretrained_path>/decoder.ckpt\\n")
    >>> check_interpreter_folder(str(folder))
    Traceback (most recent call last):
    ...
    lmac_brain.interface.folder_checks.ModelFolderError: ...decoder.ckpt: missing from model folder ...
    >>> check_interpreter_folder("speechbrain/some-hub-id")  # a hub id: left to SpeechBrain
    >>> check_interpreter_folder(str(folder) + "2")
    Traceback (most recent call last):
    ...
    lmac_brain.models.sources.SourceNotFoundError: ...interp2: interpreter folder not found (...did you mean interp?)...
    """
    source = check_source(source, "interpreter folder")
    if not os.path.isdir(source):  # a hub id or URL
        return
    folder = os.path.abspath(source)
    hparams_path = os.path.join(folder, hparams_file)
    if not os.path.isfile(hparams_path):
        raise ModelFolderError(
            f"{hparams_path}: missing; {folder} is not an exported model folder (or is incomplete). "
            f"Point source at the folder that export_interpreter wrote, or re-export it."
        )
    with open(hparams_path, encoding="utf-8") as f:
        text = f.read()
    check_module_paths(text, hparams_path)
    check_removed_options(text, hparams_path)
    names = referenced_files(text)
    missing = [n for n in names if not os.path.exists(os.path.join(folder, n))]
    if missing:
        raise ModelFolderError(
            f"{', '.join(os.path.join(folder, n) for n in missing)}: missing from model folder {folder} "
            f"({hparams_file} loads {', '.join(names)}). The folder is incomplete. {_REPAIR}"
        )
    for name in names:
        path = os.path.join(folder, name)
        if os.path.isdir(path):  # an encoder classifier's folder: its loader checks its own entries and files
            continue
        if os.path.getsize(path) == 0:
            raise ModelFolderError(f"{path}: the file is empty (0 bytes), in model folder {folder}. {_REPAIR}")
        if name.endswith(".ckpt"):
            check_checkpoint(path, folder)
        elif os.path.basename(name) == "label_encoder.txt":
            check_label_encoder(path, folder)
    logger.debug("Model folder %s: %s present and readable", folder, ", ".join(names))


def load_checked(pretrainer) -> None:
    """``pretrainer.load_collected()`` after checking every collected module checkpoint with
    :func:`check_state_dict_fits`.

    For the recipes' ``Pretrainer`` (external classifier, decoder initialisation): a checkpoint of
    another shape stops with the file and both shapes named, instead of PyTorch's bare size mismatch.
    Call it after ``collect_files``.

    Example
    -------
    >>> from speechbrain.utils.parameter_transfer import Pretrainer
    >>> tmp = getfixture("tmpdir")
    >>> torch.save(torch.nn.Linear(16, 3).state_dict(), str(tmp / "head.ckpt"))
    >>> pre = Pretrainer(collect_in=str(tmp / "collected"), loadables={"head": torch.nn.Linear(16, 2)},
    ...                  paths={"head": str(tmp / "head.ckpt")})
    >>> _ = pre.collect_files()
    >>> load_checked(pre)
    Traceback (most recent call last):
    ...
    lmac_brain.interface.folder_checks.ModelFolderError: .../head.ckpt: does not fit the Linear ...
    """
    for name, loadable in pretrainer.loadables.items():
        if isinstance(loadable, torch.nn.Module):
            collected = os.path.join(str(pretrainer.collect_in), f"{name}.ckpt")
            check_state_dict_fits(loadable, collected, str(pretrainer.paths[name]))
    pretrainer.load_collected()
