"""Write a trained classifier as a hub-style folder (the layout of ``speechbrain/cnn14-esc50``).

The folder holds ``embedding_model.ckpt`` (the :class:`~lmac_brain.models.classifier.Cnn14` state dict),
``classifier.ckpt`` (the head's state dict), ``label_encoder.txt``, ``metrics.json`` and a
``hyperparams.yaml`` that rebuilds front end, embedding model and head and loads the two checkpoints
through a SpeechBrain ``Pretrainer`` (``source`` is filled in by ``Pretrained.from_hparams`` or can be
overridden). The L-MAC recipe points its own ``Pretrainer`` at the same three files, so a local export
and the public hub model are interchangeable.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import json
import os
import shutil
import string
from typing import Any, Dict, Mapping, Tuple

import torch
from speechbrain.lobes.models.ECAPA_TDNN import Classifier as SBClassifierHead

from lmac_brain.atomic import atomic_folder, atomic_path, write_text
from lmac_brain.data.audio import INPUT_NORMALIZATIONS
from lmac_brain.evaluation.metrics import METRIC_NAMES
from lmac_brain.models.classifier import Cnn14
from lmac_brain.models.frontend import Frontend

#: The checked-in templates of exported ``hyperparams.yaml`` files.
TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")

EXPORT_FILES = ("hyperparams.yaml", "embedding_model.ckpt", "classifier.ckpt", "label_encoder.txt", "metrics.json")


def head_config(head: torch.nn.Module) -> Tuple[str, Dict[str, Any]]:
    """Class path and constructor arguments that rebuild a classification head.

    Supported heads: ``torch.nn.Linear`` and SpeechBrain's ``ECAPA_TDNN.Classifier`` (the head of the
    public CNN14 ESC-50 model).

    Example
    -------
    >>> head_config(torch.nn.Linear(8, 3))
    ('torch.nn.Linear', {'in_features': 8, 'out_features': 3})
    """
    if isinstance(head, torch.nn.Linear):
        return "torch.nn.Linear", {"in_features": head.in_features, "out_features": head.out_features}
    if isinstance(head, SBClassifierHead):
        lin_blocks = len(head.blocks) // 2
        out_neurons, lin_neurons = head.weight.shape
        input_size = head.blocks[0].norm.num_features if lin_blocks else lin_neurons
        return "speechbrain.lobes.models.ECAPA_TDNN.Classifier", {
            "input_size": input_size,
            "lin_blocks": lin_blocks,
            "lin_neurons": lin_neurons,
            "out_neurons": out_neurons,
        }
    raise TypeError(
        f"Cannot export a head of type {type(head).__name__}: use torch.nn.Linear or "
        "speechbrain.lobes.models.ECAPA_TDNN.Classifier."
    )


def _yaml_args(args: Mapping[str, Any], indent: int = 4) -> str:
    return "".join(f"{' ' * indent}{k}: {json.dumps(v)}\n" for k, v in args.items())


def render_template(name: str, **fields: Any) -> str:
    """Fill the checked-in template ``lmac_brain/interface/templates/<name>.yaml`` (``${field}`` placeholders).

    Example
    -------
    >>> print(render_template("model", sample_rate=16000, frontend_args="", embedding_args="",
    ...                       head_class="torch.nn.Linear", head_args="", logit_scale=1.0).splitlines()[0])
    sample_rate: 16000
    """
    with open(os.path.join(TEMPLATES, f"{name}.yaml"), encoding="utf-8") as f:
        return string.Template(f.read()).substitute(fields)


def _model_yaml(frontend: Frontend, embedding_model: Cnn14, head: torch.nn.Module, logit_scale: float) -> str:
    """YAML sections ``frontend``, ``embedding_model``, ``classifier`` (the head) and ``model``."""
    head_class, head_args = head_config(head)
    fe_args = dict(
        sample_rate=frontend.sample_rate,
        n_fft=frontend.n_fft,
        win_length=frontend.win_length,
        hop_length=frontend.hop_length,
        n_mels=frontend.n_mels,
        f_min=frontend.f_min,
        f_max=frontend.f_max,
    )
    emb_args = dict(
        mel_bins=embedding_model.mel_bins,
        emb_dim=embedding_model.emb_dim,
        width=embedding_model.width,
        norm_type=embedding_model.norm_type,
        return_reps=True,
    )
    return render_template(
        "model",
        sample_rate=frontend.sample_rate,
        frontend_args=_yaml_args(fe_args),
        embedding_args=_yaml_args(emb_args),
        head_class=head_class,
        head_args=_yaml_args(head_args),
        logit_scale=json.dumps(logit_scale),
    )


def classifier_hparams_yaml(
    frontend: Frontend, embedding_model: Cnn14, head: torch.nn.Module, logit_scale: float
) -> str:
    """The ``hyperparams.yaml`` text of an exported classifier folder (template ``templates/classifier.yaml``).

    Example
    -------
    >>> text = classifier_hparams_yaml(Frontend(), Cnn14(80, 32, 0.125, return_reps=True), torch.nn.Linear(32, 2), 1.0)
    >>> print("width: 0.125" in text, "pretrainer:" in text)
    True True
    """
    return render_template("classifier", model=_model_yaml(frontend, embedding_model, head, logit_scale))


def export_classifier(
    out_dir: str,
    frontend: Frontend,
    classifier: torch.nn.Module,
    label_encoder_file: str,
    metrics: Mapping[str, Any],
    overwrite: bool = False,
) -> str:
    """Write ``classifier`` (an :class:`~lmac_brain.models.classifier.AudioClassifier`) as a hub-style folder.

    The folder is assembled in a temporary sibling and renamed into place, so a crash never leaves a
    half-written export. An existing folder is replaced only with ``overwrite=True``.

    Arguments
    ---------
    out_dir : str
        Destination folder.
    frontend : Frontend
        The front end the classifier was trained with.
    classifier : AudioClassifier
        Trained embedding model + head.
    label_encoder_file : str
        The ``label_encoder.txt`` used in training.
    metrics : mapping
        Stored as ``metrics.json`` (e.g. validation and test accuracy, epochs, command).
    overwrite : bool
        Replace an existing ``out_dir``.

    Returns
    -------
    str
        ``out_dir``.

    Example
    -------
    >>> from lmac_brain.models.classifier import AudioClassifier
    >>> tmp = getfixture("tmpdir")
    >>> enc = tmp / "label_encoder.txt"
    >>> _ = enc.write_text("'a' => 0\\n'b' => 1\\n================\\n'starting_index' => 0\\n", "utf-8")
    >>> clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 2))
    >>> out = export_classifier(str(tmp / "clf"), Frontend(), clf, str(enc), {"test_acc": 0.5})
    >>> print(sorted(os.listdir(out)) == sorted(EXPORT_FILES))
    True
    """
    with atomic_folder(out_dir, overwrite) as tmp_dir:
        torch.save(classifier.embedding_model.state_dict(), os.path.join(tmp_dir, "embedding_model.ckpt"))
        torch.save(classifier.head.state_dict(), os.path.join(tmp_dir, "classifier.ckpt"))
        shutil.copyfile(label_encoder_file, os.path.join(tmp_dir, "label_encoder.txt"))
        _write_json(os.path.join(tmp_dir, "metrics.json"), metrics)
        text = classifier_hparams_yaml(frontend, classifier.embedding_model, classifier.head, classifier.logit_scale)
        write_text(os.path.join(tmp_dir, "hyperparams.yaml"), text)
    return os.path.abspath(out_dir)


def save_decoder(out_dir: str, decoder: torch.nn.Module, metrics: Mapping[str, Any]) -> str:
    """Write ``decoder.ckpt`` (state dict) and ``results.json`` into ``out_dir``, each atomically.

    ``decoder.ckpt`` is what the FT stage's ``--decoder_init`` takes.

    Example
    -------
    >>> out = save_decoder(str(getfixture("tmpdir")), torch.nn.Linear(2, 2), {"AI": 50.0})
    >>> print(sorted(os.listdir(out)))
    ['decoder.ckpt', 'results.json']
    """
    with atomic_path(os.path.join(out_dir, "decoder.ckpt")) as tmp:
        torch.save(decoder.state_dict(), tmp)
    _write_json(os.path.join(out_dir, "results.json"), metrics)
    return out_dir


def _write_json(path: str, obj: Mapping[str, Any]) -> None:
    write_text(path, json.dumps(dict(obj), indent=2))


def check_input_normalization(value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is one of :data:`~lmac_brain.data.audio.INPUT_NORMALIZATIONS`.

    Example
    -------
    >>> check_input_normalization("peak")
    >>> check_input_normalization("rms")
    Traceback (most recent call last):
    ...
    ValueError: Unknown input_normalization 'rms': use one of ...
    """
    if value not in INPUT_NORMALIZATIONS:
        raise ValueError(
            f"Unknown input_normalization {value!r}: use one of {', '.join(INPUT_NORMALIZATIONS)} "
            "(the normalisation the classifier was trained with)."
        )


def interpreter_hparams_yaml(lmac, input_normalization: str = "peak") -> str:
    """``hyperparams.yaml`` of an exported L-MAC interpreter (template ``templates/interpreter.yaml``, read by
    :class:`~lmac_brain.interface.interpreter.LMACInterpreter`).

    ``pretrained_path`` is where the checkpoints are fetched from; ``from_hparams`` sets it to the
    ``source`` it was given (a local folder or a hub id). ``input_normalization`` is the normalisation
    the classifier was trained with (:data:`~lmac_brain.data.audio.INPUT_NORMALIZATIONS`; the recipes
    peak-normalise every clip); the interpreter applies it to every input.

    Example
    -------
    >>> from lmac_brain.models.classifier import AudioClassifier
    >>> from lmac_brain.models.decoder import LMACDecoder, rep_channels
    >>> from lmac_brain.explain.lmac import LMAC
    >>> emb = Cnn14(80, 16, 0.0625, return_reps=True)
    >>> lmac = LMAC(Frontend(), AudioClassifier(emb, torch.nn.Linear(16, 2)), LMACDecoder(rep_channels(emb)))
    >>> text = interpreter_hparams_yaml(lmac)
    >>> print("decoder: !new:lmac_brain.models.decoder.LMACDecoder" in text, "pretrained_path: ." in text)
    True True
    >>> print("input_normalization: peak" in text)
    True
    """
    from lmac_brain.models.decoder import LMACDecoder

    check_input_normalization(input_normalization)
    decoder = lmac.decoder
    if not isinstance(decoder, LMACDecoder):
        raise TypeError(f"Only LMACDecoder interpreters can be exported, got {type(decoder).__name__}.")
    return render_template(
        "interpreter",
        input_normalization=input_normalization,
        model=_model_yaml(
            lmac.frontend, lmac.classifier.embedding_model, lmac.classifier.head, lmac.classifier.logit_scale
        ),
        decoder_args=_yaml_args(decoder.config()),
        mask_domain=lmac.mask_domain,
        threshold=json.dumps(lmac.threshold),
        rank_power=json.dumps(lmac.rank_power),
    )


def export_interpreter(
    out_dir: str,
    lmac,
    label_encoder_file: str,
    metrics: Mapping[str, Any],
    model_card: str,
    overwrite: bool = False,
    input_normalization: str = "peak",
) -> str:
    """Write a trained :class:`~lmac_brain.explain.lmac.LMAC` as a folder that ``LMACInterpreter.from_hparams`` loads.

    Files: ``hyperparams.yaml``, ``embedding_model.ckpt``, ``classifier.ckpt``, ``decoder.ckpt``,
    ``label_encoder.txt``, ``metrics.json`` and ``README.md`` (the model card). Written into a temporary
    sibling folder and renamed into place; an existing folder is replaced only with ``overwrite=True``.
    ``input_normalization`` (stored in ``hyperparams.yaml``) is the input normalisation the classifier
    was trained with: ``"peak"`` for the recipes of this project, ``"none"`` for a classifier trained on
    waveforms as recorded.

    Example
    -------
    >>> from lmac_brain.models.classifier import AudioClassifier
    >>> from lmac_brain.models.decoder import LMACDecoder, rep_channels
    >>> from lmac_brain.explain.lmac import LMAC
    >>> tmp = getfixture("tmpdir")
    >>> enc = tmp / "label_encoder.txt"
    >>> _ = enc.write_text("'a' => 0\\n'b' => 1\\n================\\n'starting_index' => 0\\n", "utf-8")
    >>> emb = Cnn14(80, 16, 0.0625, return_reps=True)
    >>> lmac = LMAC(Frontend(), AudioClassifier(emb, torch.nn.Linear(16, 2)), LMACDecoder(rep_channels(emb)))
    >>> out = export_interpreter(str(tmp / "interp"), lmac, str(enc), {}, "# card")
    >>> print(" ".join(sorted(os.listdir(out))))
    README.md classifier.ckpt decoder.ckpt embedding_model.ckpt hyperparams.yaml label_encoder.txt metrics.json
    """
    hparams_text = interpreter_hparams_yaml(lmac, input_normalization)  # checks the arguments before any write
    with atomic_folder(out_dir, overwrite) as tmp_dir:
        torch.save(lmac.classifier.embedding_model.state_dict(), os.path.join(tmp_dir, "embedding_model.ckpt"))
        torch.save(lmac.classifier.head.state_dict(), os.path.join(tmp_dir, "classifier.ckpt"))
        torch.save(lmac.decoder.state_dict(), os.path.join(tmp_dir, "decoder.ckpt"))
        shutil.copyfile(label_encoder_file, os.path.join(tmp_dir, "label_encoder.txt"))
        _write_json(os.path.join(tmp_dir, "metrics.json"), metrics)
        write_text(os.path.join(tmp_dir, "README.md"), model_card)
        write_text(os.path.join(tmp_dir, "hyperparams.yaml"), hparams_text)
    return os.path.abspath(out_dir)


def model_card(title: str, description: str, metrics: Mapping[str, Any], command: str) -> str:
    """Markdown model card of an exported interpreter: what it is, how it was made, what it scores.

    ``command`` goes into the "Produced by" ``bash`` block as it is: the recipes give the shell-quoted
    command line (:func:`lmac_brain.recipe.experiment.command_line`), so that it can be pasted back.

    Example
    -------
    >>> print(model_card("T", "D", {"AI": 1.0}, "python x.py").splitlines()[0])
    # T
    """
    rows = "\n".join(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items())
    return (
        f"# {title}\n\n{description}\n\n"
        "Load it with:\n\n```python\nfrom lmac_brain.interface.interpreter import LMACInterpreter\n\n"
        'interp = LMACInterpreter.from_hparams(source="<this folder>")\n'
        'out = interp.interpret_file("clip.wav")  # out.interpretation: what the classifier listened to\n```\n\n'
        f"## Metrics\n\n| metric | value |\n|---|---|\n{rows}\n\n"
        f"## Produced by\n\n```bash\n{command}\n```\n"
    )


def export_lmac_run(hparams: dict, results: dict) -> str:
    """Export the L-MAC of a recipe run as an interpreter folder (``hparams["export_folder"]``).

    Uses the run's collected classifier files and label encoder (``<save_folder>/classifier``), the
    decoder currently in ``hparams["decoder"]`` (the recipes load the best checkpoint first) and the
    run's ``results`` (``title``, ``description``, ``test`` metrics and ``command``, as written to
    ``results.json`` by the training scripts) for the model card. Replaces an existing export.

    Returns
    -------
    str
        The export folder.
    """
    card = model_card(
        results["title"],
        results["description"],
        {k: v for k, v in results["test"].items() if k in METRIC_NAMES},
        results["command"],
    )
    from lmac_brain.models.encoder_classifier import EncoderAudioClassifier

    if isinstance(hparams["lmac"].classifier, EncoderAudioClassifier):  # a SpeechBrain EncoderClassifier's L-MAC
        from lmac_brain.interface.encoder_export import export_encoder_interpreter

        return export_encoder_interpreter(hparams["export_folder"], hparams["lmac"], results, card, overwrite=True)
    label_file = os.path.join(hparams["save_folder"], "classifier", "label_encoder.ckpt")  # the collected copy
    return export_interpreter(hparams["export_folder"], hparams["lmac"], label_file, results, card, overwrite=True)
