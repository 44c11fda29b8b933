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
:class:`EncoderFolderError` naming the entry and the file. :class:`EncoderClassifierModel` runs it as
SpeechBrain's ``EncoderClassifier.classify_batch`` does (same scores, tested against it).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
import re
from typing import List, Optional

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.fetching import fetch

from lmac_brain.models.frontend import Frontend
from lmac_brain.models.sources import check_pretrainer_paths, check_source

#: The entries of ``hyperparams.yaml`` the explainer needs (``mean_var_norm`` is used when present).
REQUIRED = ("compute_features", "embedding_model", "classifier", "label_encoder", "pretrainer")


class EncoderFolderError(ValueError):
    """An ``EncoderClassifier`` folder that lacks an entry the explainer needs, or whose entry is unusable."""


class EncoderClassifierModel(torch.nn.Module):
    """A SpeechBrain encoder classifier: waveform -> features -> (normalisation) -> embedding -> class scores.

    Arguments
    ---------
    compute_features, embedding_model, classifier : torch.nn.Module
        The folder's modules.
    mean_var_norm : torch.nn.Module, optional
        The folder's input normalisation (called with relative lengths, as SpeechBrain does).
    labels : list of str
        Class names in index order.
    sample_rate : int
        The rate the features expect.

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
    >>> model = EncoderClassifierModel(
    ...     Fbank(n_mels=20), ECAPA_TDNN(20, channels=[16, 16, 16, 16, 48], lin_neurons=8),
    ...     Classifier(8, out_neurons=3), None, ["a", "b", "c"], 16000).eval()
    >>> model(torch.randn(2, 16000)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        compute_features: torch.nn.Module,
        embedding_model: torch.nn.Module,
        classifier: torch.nn.Module,
        mean_var_norm: Optional[torch.nn.Module],
        labels: List[str],
        sample_rate: int,
    ):
        super().__init__()
        self.compute_features, self.embedding_model, self.classifier = compute_features, embedding_model, classifier
        self.mean_var_norm = mean_var_norm
        self.labels, self.sample_rate = list(labels), int(sample_rate)

    def features(self, wavs: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` waveforms -> the embedding model's input ``[B, T, n_feats]`` (normalised if the folder does)."""
        feats = self.compute_features(wavs)
        if self.mean_var_norm is not None:
            feats = self.mean_var_norm(feats, torch.ones(wavs.shape[0], device=wavs.device))
        return feats

    def frontend(self) -> Frontend:
        """The explainer's front end on the STFT of ``compute_features`` (same FFT size, Hamming window, hop):
        its ``log1p|X|`` is what :meth:`spectral_features` turns into this classifier's input, so a mask on it
        reaches the classifier exactly as the folder computes features, and its ISTFT makes the mask listenable.

        Raises
        ------
        EncoderFolderError
            If ``compute_features`` is not SpeechBrain's ``Fbank`` or ``MFCC`` with a Hamming-window STFT.
        """
        stft = getattr(self.compute_features, "compute_STFT", None)
        fbanks = getattr(self.compute_features, "compute_fbanks", None)
        if stft is None or fbanks is None:
            raise EncoderFolderError(
                f"compute_features is {type(self.compute_features).__name__}; the explainer masks the STFT that "
                "SpeechBrain's Fbank and MFCC compute (other feature extractors are not supported yet)."
            )
        if not (stft.center and stft.onesided and not stft.normalized_stft) or not torch.allclose(
            stft.window, torch.hamming_window(stft.win_length)
        ):
            raise EncoderFolderError(
                "compute_features: its STFT must be centred, one-sided, unnormalised, with a Hamming window "
                "(SpeechBrain's defaults) for the explainer to mask it."
            )
        return Frontend(
            sample_rate=stft.sample_rate,
            n_fft=stft.n_fft,
            win_length=stft.win_length,
            hop_length=stft.hop_length,
            n_mels=fbanks.n_mels,
        )

    def spectral_features(self, logmag: torch.Tensor) -> torch.Tensor:
        """The embedding model's input from a (masked) ``log1p|X|`` ``[B, T, F]`` of :meth:`frontend`: the power
        spectrum through ``compute_features``' own filterbank (and DCT, deltas, context) and ``mean_var_norm``.
        Unmasked, equal to :meth:`features` of the waveform up to float rounding."""
        cf = self.compute_features
        feats = cf.compute_fbanks(torch.expm1(logmag).clamp(min=0) ** 2)
        if hasattr(cf, "compute_dct"):
            feats = cf.compute_dct(feats)
        if cf.deltas:
            delta1 = cf.compute_deltas(feats)
            feats = torch.cat([feats, delta1, cf.compute_deltas(delta1)], dim=2)
        if cf.context:
            feats = cf.context_window(feats)
        if self.mean_var_norm is not None:
            feats = self.mean_var_norm(feats, torch.ones(feats.shape[0], device=feats.device))
        return feats

    def scores(self, feats: torch.Tensor) -> torch.Tensor:
        """The embedding model's input -> per-class scores ``[B, C]``, as the folder's ``classifier`` gives them."""
        lengths = torch.ones(feats.shape[0], device=feats.device)
        return self.classifier(self.embedding_model(feats, lengths)).reshape(feats.shape[0], -1)

    def forward(self, wavs: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` waveforms -> per-class scores ``[B, C]`` (``EncoderClassifier.classify_batch``'s first output)."""
        return self.scores(self.features(wavs))


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

    A top-level ``pretrained_path`` (the hub convention: checkpoints at ``<pretrained_path>/...``) is set to
    ``source``, so a copy of a hub folder loads from where it is; a ``pretrainer`` without ``paths`` loads
    ``<source>/<name>.ckpt``.

    Arguments
    ---------
    source : str
        The folder or hub id.
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
        No ``hyperparams.yaml``, a missing entry (named, with the file), a checkpoint that does not load, or a
        ``classifier`` whose scores do not have one value per label of ``label_encoder``.
    """
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
    pretrainer.set_collect_in(savedir)
    try:
        pretrainer.collect_files(default_source=source)
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
    model.requires_grad_(False)
    with torch.no_grad():
        n_scores = model(torch.zeros(1, model.sample_rate)).shape[1]
    if n_scores != len(labels):
        raise EncoderFolderError(
            f"{yaml_path}: 'classifier' gives {n_scores} scores per input, 'label_encoder' has {len(labels)} labels; "
            "the explainer needs one score per class (the classifier entry must be the classification head)."
        )
    return model
