"""A SpeechBrain encoder classifier (ECAPA-TDNN, x-vector) as the classifier that L-MAC explains.

:class:`EncoderClassifierModel` holds the modules of an ``EncoderClassifier`` folder
(:func:`~lmac_brain.models.encoder_folder.load_encoder_classifier`) and runs them as SpeechBrain does. For the
explainer it also gives

* :meth:`EncoderClassifierModel.frontend`: the STFT of the folder's own ``Fbank``/``MFCC`` (same FFT size,
  window and hop) as an :class:`EncoderFrontend`, whose ``features`` of a masked ``log1p|X|`` is the folder's
  filterbank (and DCT, deltas, context) and ``mean_var_norm`` of it -- the mask reaches the classifier exactly
  as the folder computes features, and the ISTFT of the same front end makes it listenable;
* :class:`EncoderAudioClassifier`: features -> logits and the encoder's frame-level block outputs
  ``[B, C_i, T]`` (deepest first), and the head's view of a class (the interface of
  :class:`~lmac_brain.models.classifier.AudioClassifier` that :class:`~lmac_brain.explain.lmac.LMAC` uses).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import importlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from lmac_brain.models.classifier import head_class_directions
from lmac_brain.models.frontend import Frontend


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
    labels : sequence of str
        Class names in index order (a folder's label encoder; empty for a model being trained).
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
        mean_var_norm: Optional[torch.nn.Module] = None,
        labels: Sequence[str] = (),
        sample_rate: int = 16000,
    ):
        super().__init__()
        self.compute_features, self.embedding_model, self.classifier = compute_features, embedding_model, classifier
        self.mean_var_norm = mean_var_norm
        self.labels, self.sample_rate = list(labels), int(sample_rate)
        self.spec: Optional[Dict[str, Dict[str, Any]]] = None  # parts' classes and arguments (a built model)
        self.logit_scale = 1.0  # scores times this are logits (a loaded folder sets it)
        self.folder_files: Dict[str, str] = {}  # a loaded folder's files: name in the folder -> local path

    def features(self, wavs: torch.Tensor) -> torch.Tensor:
        """``[B, N]`` waveforms -> the embedding model's input ``[B, T, n_feats]`` (normalised if the folder does)."""
        feats = self.compute_features(wavs)
        if self.mean_var_norm is not None:
            feats = self.mean_var_norm(feats, torch.ones(wavs.shape[0], device=wavs.device))
        return feats

    def frontend(self) -> "EncoderFrontend":
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
        return EncoderFrontend(
            self,
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


class EncoderFrontend(Frontend):
    """A :class:`~lmac_brain.models.frontend.Frontend` on an encoder classifier's STFT whose :meth:`features` are that
    classifier's own (:meth:`EncoderClassifierModel.spectral_features`); build it with
    :meth:`EncoderClassifierModel.frontend`."""

    def __init__(self, model: EncoderClassifierModel, **stft):
        super().__init__(**stft)
        self._model = [model]  # not a submodule: the classifier's modules belong to the classifier

    def features(self, logmag: torch.Tensor) -> torch.Tensor:
        """The classifier's input ``[B, T, n_feats]`` from a (masked) ``log1p|X|`` ``[B, T, F]``."""
        self._check_freqs(logmag)
        return self._model[0].spectral_features(logmag)


class EncoderAudioClassifier(torch.nn.Module):
    """An encoder classifier as L-MAC sees it: features -> (logits, frame-level block outputs, deepest first).

    The block outputs are taken with forward hooks on the encoder's frame-level blocks (ECAPA-TDNN: each block
    and the multi-layer aggregation; x-vector: each TDNN layer's normalised output), as ``[B, C_i, T]``.

    Arguments
    ---------
    model : EncoderClassifierModel
        The classifier.
    logit_scale : float, optional
        Scores times this are the logits (a cosine head scores in ``[-1, 1]``; its training scale, e.g. 30,
        makes them logits; 1 for a head that gives logits or log-probabilities). Default: the model's own
        (``model.logit_scale``, which a loaded folder sets).

    Example
    -------
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN, Classifier
    >>> model = EncoderClassifierModel(
    ...     Fbank(n_mels=20), ECAPA_TDNN(20, channels=[16, 16, 16, 16, 48], lin_neurons=8),
    ...     Classifier(8, out_neurons=3), None, ["a", "b", "c"], 16000).eval()
    >>> clf = EncoderAudioClassifier(model, logit_scale=30.0)
    >>> wavs = torch.randn(2, 16000)
    >>> logits, reps = clf(model.features(wavs))
    >>> print(logits.shape, [tuple(r.shape) for r in reps], clf.rep_channels)
    torch.Size([2, 3]) [(2, 48, 101), (2, 16, 101), (2, 16, 101), (2, 16, 101), (2, 16, 101)] [48, 16, 16, 16, 16]
    >>> torch.allclose(logits, 30.0 * model(wavs))
    True
    """

    def __init__(self, model: EncoderClassifierModel, logit_scale: Optional[float] = None):
        super().__init__()
        self.model = model
        self.logit_scale = float(model.logit_scale if logit_scale is None else logit_scale)
        frame_taps(model.embedding_model)  # an encoder family without frame-level blocks stops here
        training = model.training
        model.eval()  # a dry pass must not move batch-norm statistics
        with torch.no_grad():
            _, reps = self(model.features(torch.zeros(1, model.sample_rate)))
        model.train(training)
        self.rep_channels = [r.shape[1] for r in reps]

    @property
    def embedding_model(self) -> torch.nn.Module:
        return self.model.embedding_model

    @property
    def head(self) -> torch.nn.Module:
        return self.model.classifier

    def forward(self, feats: torch.Tensor) -> Tuple[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Features ``[B, T, n_feats]`` -> logits ``[B, C]`` and the block outputs ``[B, C_i, T]``, deepest first.

        The hooks live for one call only, on the blocks of this module's own encoder (a deep copy, as the
        sanity check makes, reads its own blocks)."""
        outputs: List[torch.Tensor] = []

        def keep(channels_last: bool):
            return lambda module, inputs, output: outputs.append(output.transpose(1, 2) if channels_last else output)

        handles = [m.register_forward_hook(keep(last)) for m, last in frame_taps(self.model.embedding_model)]
        try:
            logits = self.model.scores(feats) * self.logit_scale
        finally:
            for handle in handles:
                handle.remove()
        return logits, tuple(reversed(outputs))

    def class_directions(self, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The head's view of classes ``target`` ``[B]``: directions and biases
        (:func:`~lmac_brain.models.classifier.head_class_directions`)."""
        return head_class_directions(self.head, target)


def frame_taps(embedding_model: torch.nn.Module) -> List[Tuple[torch.nn.Module, bool]]:
    """The frame-level blocks of a SpeechBrain encoder whose outputs the decoder reads, shallow to deep, each
    with whether its output is ``[B, T, C]`` (channels last; else ``[B, C, T]``).

    Raises
    ------
    EncoderFolderError
        For an encoder family not supported (yet): ECAPA-TDNN and x-vector are.

    Example
    -------
    >>> from speechbrain.lobes.models.Xvector import Xvector
    >>> taps = frame_taps(Xvector(in_channels=20, tdnn_channels=[8, 8, 8, 8, 16], lin_neurons=4))
    >>> len(taps), type(taps[0][0]).__name__, taps[0][1]
    (5, 'BatchNorm1d', True)
    """
    blocks = getattr(embedding_model, "blocks", None)
    name = type(embedding_model).__name__
    if name == "ECAPA_TDNN":
        return [(block, False) for block in blocks] + [(embedding_model.mfa, False)]
    if name == "Xvector":
        from speechbrain.nnet.normalization import BatchNorm1d

        return [(module, True) for module in blocks if isinstance(module, BatchNorm1d)]
    raise EncoderFolderError(
        f"embedding_model is {name}; the explainer reads the frame-level blocks of SpeechBrain's ECAPA_TDNN and "
        "Xvector (other encoders are not supported yet)."
    )


def label_encoder_of(model: EncoderClassifierModel):
    """A SpeechBrain ``CategoricalEncoder`` of ``model.labels`` (the folder's classes, in index order).

    Example
    -------
    >>> model = EncoderClassifierModel(torch.nn.Identity(), torch.nn.Identity(), torch.nn.Identity(), labels=["a", "b"])
    >>> label_encoder_of(model).decode_ndim([1, 0])
    ['b', 'a']
    """
    from speechbrain.dataio.encoder import CategoricalEncoder

    encoder = CategoricalEncoder()
    encoder.update_from_iterable(model.labels)
    return encoder


def encoder_frontend(model: EncoderClassifierModel) -> "EncoderFrontend":
    """``model.frontend()``, for configs (``frontend: !apply:...encoder_frontend [!ref <encoder>]``)."""
    return model.frontend()


def build_encoder_classifier(
    compute_features: Mapping[str, Any],
    embedding_model: Mapping[str, Any],
    classifier: Mapping[str, Any],
    mean_var_norm: Optional[Mapping[str, Any]] = None,
    sample_rate: int = 16000,
) -> EncoderClassifierModel:
    """A new encoder classifier from the class and arguments of each part, ``{"class": "module.Class", "args":
    {...}}``, kept as ``spec`` so that :func:`~lmac_brain.interface.encoder_export.export_encoder_classifier` can
    write the same parts into an ``EncoderClassifier`` folder's ``hyperparams.yaml``. How a training config
    declares the classifier it trains::

        encoder: !apply:lmac_brain.models.encoder_classifier.build_encoder_classifier
            compute_features: {class: speechbrain.lobes.features.Fbank, args: {n_mels: 80}}
            embedding_model: {class: speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN, args: {input_size: 80}}
            classifier: {class: speechbrain.lobes.models.ECAPA_TDNN.Classifier,
                         args: {input_size: 192, out_neurons: 50}}

    Example
    -------
    >>> model = build_encoder_classifier(
    ...     {"class": "speechbrain.lobes.features.Fbank", "args": {"n_mels": 20}},
    ...     {"class": "speechbrain.lobes.models.Xvector.Xvector", "args": {"in_channels": 20, "lin_neurons": 8,
    ...                                                                     "tdnn_channels": [8, 8, 8, 8, 16]}},
    ...     {"class": "speechbrain.lobes.models.ECAPA_TDNN.Classifier", "args": {"input_size": 8, "out_neurons": 3}})
    >>> print(type(model.embedding_model).__name__, model.spec["classifier"]["args"]["out_neurons"])
    Xvector 3
    """
    parts = {"compute_features": compute_features, "embedding_model": embedding_model, "classifier": classifier}
    if mean_var_norm is not None:
        parts["mean_var_norm"] = mean_var_norm
    modules = {name: build_part(name, part) for name, part in parts.items()}
    model = EncoderClassifierModel(
        modules["compute_features"],
        modules["embedding_model"],
        modules["classifier"],
        modules.get("mean_var_norm"),
        sample_rate=sample_rate,
    )
    model.spec = {name: {"class": part["class"], "args": dict(part.get("args") or {})} for name, part in parts.items()}
    return model


def build_part(name: str, part: Mapping[str, Any]) -> torch.nn.Module:
    """One part of an encoder classifier from ``{"class": "module.Class", "args": {...}}`` (``name`` is what
    an error calls it).

    Example
    -------
    >>> build_part("classifier", {"class": "torch.nn.Linear", "args": {"in_features": 4, "out_features": 2}})
    Linear(in_features=4, out_features=2, bias=True)
    """
    if set(part) - {"class", "args"} or "class" not in part:
        raise ValueError(f"{name}: expected {{class: module.Class, args: {{...}}}}, got {dict(part)}.")
    module_name, _, class_name = part["class"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f"{name}: cannot import {part['class']!r} ({err}).") from err
    return cls(**dict(part.get("args") or {}))
