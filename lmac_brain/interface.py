"""``LMACInterpreter``: a SpeechBrain ``Pretrained`` interface that explains audio with L-MAC.

Load a folder written by :func:`~lmac_brain.export.export_interpreter` (or the same files on a model
hub) with ``LMACInterpreter.from_hparams(source=..., savedir=...)`` and call
:meth:`LMACInterpreter.interpret_file` or :meth:`LMACInterpreter.interpret_batch`.

Stale caches: SpeechBrain's fetching keeps a file that already exists in ``savedir``, so loading a
*different* source into a ``savedir`` used before would silently reuse the old ``hyperparams.yaml``.
Here ``savedir`` records its source (``.lmac_source``) and is emptied when the source changes; the
default ``savedir`` is derived from the source itself.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import torch
from speechbrain.inference.interfaces import Pretrained

from lmac_brain.audio import load_audio
from lmac_brain.checkpoints import check_interpreter_folder
from lmac_brain.listen import listenable
from lmac_brain.longform import Segment, explain_long, long_spectrogram_and_audio
from lmac_brain.targeted import Refinement, targeted_masks

logger = logging.getLogger(__name__)

SOURCE_MARKER = ".lmac_source"

ClassRef = Union[int, str]


@dataclass
class Interpretation:
    """What :class:`LMACInterpreter` returns for a batch.

    Attributes
    ----------
    mask : torch.Tensor
        ``[B, T, F]`` in ``[0, 1]``.
    interpretation : torch.Tensor
        ``[B, N]`` masked-in audio (what the classifier listened to), input length.
    masked_out : torch.Tensor
        ``[B, N]`` what the mask removes.
    labels : list of str
        Predicted class names (for long inputs: of the mean window probabilities).
    probs : torch.Tensor
        ``[B, C]`` class probabilities.
    logmag : torch.Tensor
        ``[B, T, F]`` ``log1p|X|`` of the input (for plots).
    targets : list of str
        The class each mask explains (the prediction unless a target or a rank was asked for).
    refined : torch.Tensor
        ``[B]`` bool: the mask was refined for a class other than the decision
        (:mod:`lmac_brain.targeted`); for long inputs, in at least one window.
    segments : list of list of Segment
        Per item, the explained windows (one covering the whole input when it fits one window). Without
        a target, each window of a long input explains its own decision.
    """

    mask: torch.Tensor
    interpretation: torch.Tensor
    masked_out: torch.Tensor
    labels: List[str]
    probs: torch.Tensor
    logmag: torch.Tensor
    targets: List[str]
    refined: torch.Tensor
    segments: List[List[Segment]]


def default_savedir(source: str) -> str:
    """A cache folder that depends on the source (so a new source never meets old files).

    Example
    -------
    >>> default_savedir("a") != default_savedir("b")
    True
    """
    key = os.path.abspath(source) if os.path.isdir(source) else source
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), "lmac_brain", f"{os.path.basename(key.rstrip('/')) or 'model'}-{digest}")


def prepare_savedir(savedir: str, source: str) -> None:
    """Make ``savedir`` ready for ``source``: empty it if it was filled from another source.

    Example
    -------
    >>> d = str(getfixture("tmpdir") / "cache")
    >>> prepare_savedir(d, "first")
    >>> open(os.path.join(d, "hyperparams.yaml"), "w").close()
    >>> prepare_savedir(d, "second")
    >>> os.listdir(d)
    ['.lmac_source']
    """
    key = os.path.abspath(source) if os.path.isdir(source) else source
    marker = os.path.join(savedir, SOURCE_MARKER)
    if os.path.isdir(savedir):
        previous = open(marker, encoding="utf-8").read() if os.path.isfile(marker) else None
        if previous != key:
            logger.info("savedir %s held files of %r; clearing it for %r", savedir, previous, key)
            for name in os.listdir(savedir):
                path = os.path.join(savedir, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.remove(path)
    os.makedirs(savedir, exist_ok=True)
    with open(marker, "w", encoding="utf-8") as f:
        f.write(key)


class LMACInterpreter(Pretrained):
    """Explain an audio classifier's decisions with a trained L-MAC decoder.

    Example
    -------
    >>> from lmac_brain.classifier import AudioClassifier, Cnn14
    >>> from lmac_brain.decoder import LMACDecoder, rep_channels
    >>> from lmac_brain.export import export_interpreter
    >>> from lmac_brain.frontend import Frontend
    >>> from lmac_brain.lmac import LMAC
    >>> tmp = getfixture("tmpdir")
    >>> enc = tmp / "label_encoder.txt"
    >>> _ = enc.write_text("'dog' => 0\\n'rain' => 1\\n================\\n'starting_index' => 0\\n", "utf-8")
    >>> emb = Cnn14(80, 16, 0.0625, return_reps=True)
    >>> lmac = LMAC(Frontend(), AudioClassifier(emb, torch.nn.Linear(16, 2)), LMACDecoder(rep_channels(emb)))
    >>> folder = export_interpreter(str(tmp / "interp"), lmac, str(enc), {}, "# card")
    >>> interp = LMACInterpreter.from_hparams(source=folder, savedir=str(tmp / "cache"))
    >>> out = interp.interpret_batch(torch.randn(2, 16000))
    >>> print(out.mask.shape, out.interpretation.shape, out.labels[0] in ("dog", "rain"))
    torch.Size([2, 87, 513]) torch.Size([2, 16000]) True
    """

    MODULES_NEEDED = ["lmac"]
    HPARAMS_NEEDED = ["label_encoder", "sample_rate"]

    @classmethod
    def from_hparams(cls, source, hparams_file="hyperparams.yaml", savedir=None, overrides=None, **kwargs):
        """Load from a local folder or a hub id; ``savedir`` defaults to a per-source cache folder."""
        source = os.fspath(source)
        check_interpreter_folder(source, hparams_file)
        savedir = os.fspath(savedir) if savedir is not None else default_savedir(source)
        prepare_savedir(savedir, source)
        overrides = dict(overrides or {})
        overrides.setdefault("pretrained_path", os.path.abspath(source) if os.path.isdir(source) else source)
        return super().from_hparams(source, hparams_file=hparams_file, savedir=savedir, overrides=overrides, **kwargs)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        lmac = self.mods.lmac
        with torch.no_grad():  # one forward of silence gives the classifier's number of classes
            n_classes = lmac.classify(lmac.analyse(torch.zeros(1, lmac.frontend.hop_length * 40, device=self.device))[0])[0].shape[1]
        if len(self.hparams.label_encoder) != n_classes:
            raise ValueError(
                f"The label encoder lists {len(self.hparams.label_encoder)} classes but the classifier outputs "
                f"{n_classes}: label_encoder.txt and the checkpoints come from different models."
            )
        self.hparams.label_encoder.expect_len(n_classes)

    def class_index(self, target: ClassRef) -> int:
        """Class index of a class name or index, with a clear error for an unknown class.

        Example
        -------
        >>> interp = getfixture("tiny_interpreter")  # classes "dog", "rain"
        >>> interp.class_index("rain"), interp.class_index(0)
        (1, 0)
        >>> interp.class_index("dgo")
        Traceback (most recent call last):
        ...
        ValueError: Unknown target class 'dgo'. Did you mean: dog? The classifier knows 2 classes: dog, rain.
        """
        encoder = self.hparams.label_encoder
        names = [encoder.decode_ndim(i) for i in range(len(encoder))]
        if isinstance(target, str) and not target.isdigit():
            if target in names:
                return names.index(target)
            close = difflib.get_close_matches(target, names, n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
            raise ValueError(f"Unknown target class {target!r}.{hint} The classifier knows {len(names)} classes: {shown}.")
        index = int(target)
        if not 0 <= index < len(names):
            raise ValueError(f"Target class index {index} out of range: the classifier has {len(names)} classes (0..{len(names) - 1}).")
        return index

    def _targets(self, target, batch: int) -> Optional[torch.Tensor]:
        if target is None:
            return None
        many = isinstance(target, (list, tuple, torch.Tensor))
        refs = list(target.tolist() if isinstance(target, torch.Tensor) else target) if many else [target] * batch
        if len(refs) != batch:
            raise ValueError(f"{len(refs)} targets for a batch of {batch}; give one target, or one per item.")
        return torch.tensor([self.class_index(r) for r in refs], dtype=torch.long)

    def _explain_windows(self, wavs: torch.Tensor, target: Optional[torch.Tensor], refinement: Refinement):
        out = targeted_masks(self.mods.lmac, wavs, target, refinement)
        return out["mask"], out["logits"].softmax(dim=-1), out["refined"]

    def _explain(self, wavs, target, window, refinement):
        """Masks ``[B, T, F]``, probabilities ``[B, C]``, refined ``[B]`` and segments of a batch."""
        rate, hop = self.hparams.sample_rate, self.mods.lmac.frontend.hop_length
        n = wavs.shape[1]
        names = self.hparams.label_encoder
        if n <= window:
            mask, probs, refined = self._explain_windows(wavs, target, refinement)
            segments = [[Segment(0.0, n / rate, names.decode_ndim(int(p.argmax())), float(p.max()))] for p in probs]
            return mask, probs, refined, segments
        masks, probs, refined, segments = [], [], [], []
        for i, wav in enumerate(wavs):
            flags = []

            def windows(batch, i=i, flags=flags):
                t = None if target is None else target[i].expand(batch.shape[0])
                mask, p, r = self._explain_windows(batch, t, refinement)
                flags.append(r)
                return mask, p

            out = explain_long(windows, wav, window, hop)
            masks.append(out["mask"])
            probs.append(out["probs"])
            refined.append(torch.cat(flags).any())
            segments.append([
                Segment(int(s) / rate, (int(s) + window) / rate, names.decode_ndim(int(p.argmax())), float(p.max()))
                for s, p in zip(out["starts"], out["window_probs"])
            ])
        return torch.stack(masks), torch.stack(probs), torch.stack(refined), segments

    @torch.no_grad()
    def interpret_batch(
        self,
        wavs: torch.Tensor,
        wav_lens: Optional[torch.Tensor] = None,
        target: Union[None, ClassRef, Sequence[ClassRef]] = None,
        top_k: Optional[int] = None,
        window_s: float = 10.0,
        refinement: Optional[Refinement] = None,
    ) -> Union[Interpretation, List[Interpretation]]:
        """Explain the classifier on a batch of waveforms ``[B, N]`` at ``sample_rate``.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, N]`` waveforms.
        wav_lens : torch.Tensor, optional
            Relative lengths, accepted for SpeechBrain compatibility; items shorter than the batch are
            explained with their zero padding.
        target : int, str or sequence of them, optional
            Class to explain (name or index; one for the batch or one per item) instead of the
            decision: "why class B?". Masks for classes other than the decision are refined on the
            L-MAC objective (:mod:`lmac_brain.targeted`).
        top_k : int, optional
            Explain each item's ``k`` most probable classes; returns a list of ``k`` interpretations,
            best first (the first one is the plain L-MAC explanation of the decision).
        window_s : float
            Inputs longer than this are explained in half-overlapping windows of this length whose
            masks are overlap-added (:mod:`lmac_brain.longform`); shorter ones whole.
        refinement : Refinement, optional
            Settings of the targeted refinement (default :class:`~lmac_brain.targeted.Refinement`).

        Returns
        -------
        Interpretation or list of Interpretation
            One interpretation, or ``top_k`` of them.
        """
        if target is not None and top_k is not None:
            raise ValueError("Give either target (one class to explain) or top_k (the k best classes), not both.")
        lmac = self.mods.lmac
        hop = lmac.frontend.hop_length
        window = max(int(window_s * self.hparams.sample_rate) // hop * hop, hop)
        refinement = refinement or Refinement()
        wavs = wavs.to(self.device)
        if top_k is None:
            return self._interpretation(wavs, self._targets(target, wavs.shape[0]), window, refinement)
        n_classes = len(self.hparams.label_encoder)
        if not 1 <= top_k <= n_classes:
            raise ValueError(f"top_k={top_k} out of range: the classifier has {n_classes} classes.")
        first = self._interpretation(wavs, None, window, refinement)
        ranked = first.probs.topk(top_k, dim=-1).indices
        if wavs.shape[1] > window:  # long inputs: rank 1 is the file-level best class in every window
            return [self._interpretation(wavs, ranked[:, r], window, refinement) for r in range(top_k)]
        return [first] + [self._interpretation(wavs, ranked[:, r], window, refinement) for r in range(1, top_k)]

    def _interpretation(self, wavs, target, window, refinement) -> Interpretation:
        lmac = self.mods.lmac
        mask, probs, refined, segments = self._explain(wavs, target, window, refinement)
        n = wavs.shape[1]
        if n <= window:
            logmag, phase = lmac.analyse(wavs)
            audio_in = listenable(lmac.frontend, logmag, phase, mask, n, lmac.mask_domain)
            audio_out = listenable(lmac.frontend, logmag, phase, 1 - mask, n, lmac.mask_domain)
        else:  # chunk by chunk: memory stays that of one window
            parts = [long_spectrogram_and_audio(lmac.frontend, w, m, window, lmac.mask_domain) for w, m in zip(wavs, mask)]
            logmag, audio_in, audio_out = (torch.stack(p) for p in zip(*parts))
        decode = self.hparams.label_encoder.decode_ndim
        labels = [decode(int(i)) for i in probs.argmax(dim=-1)]
        targets = labels if target is None else [decode(int(i)) for i in target]
        return Interpretation(mask, audio_in, audio_out, labels, probs, logmag, targets, refined, segments)

    def interpret_file(self, path: str, **kwargs) -> Union[Interpretation, List[Interpretation]]:
        """Explain one audio file (any format soundfile reads; resampled to ``sample_rate``).

        Keyword arguments (``target``, ``top_k``, ``window_s``, ``refinement``) are those of
        :meth:`interpret_batch`.
        """
        wav = load_audio(path, self.hparams.sample_rate)
        return self.interpret_batch(wav.unsqueeze(0), **kwargs)

    def forward(self, wavs, wav_lens=None):
        """Same as :meth:`interpret_batch` with its defaults."""
        return self.interpret_batch(wavs, wav_lens)
