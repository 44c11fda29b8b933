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

import hashlib
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import List, Optional

import torch
from speechbrain.inference.interfaces import Pretrained

from lmac_brain.audio import load_audio
from lmac_brain.listen import listenable

logger = logging.getLogger(__name__)

SOURCE_MARKER = ".lmac_source"


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
        Predicted class names.
    probs : torch.Tensor
        ``[B, C]`` class probabilities.
    logmag : torch.Tensor
        ``[B, T, F]`` ``log1p|X|`` of the input (for plots).
    """

    mask: torch.Tensor
    interpretation: torch.Tensor
    masked_out: torch.Tensor
    labels: List[str]
    probs: torch.Tensor
    logmag: torch.Tensor


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

    @torch.no_grad()
    def interpret_batch(self, wavs: torch.Tensor, wav_lens: Optional[torch.Tensor] = None) -> Interpretation:
        """Explain the classifier's decisions on a batch of waveforms ``[B, N]`` at ``sample_rate``.

        ``wav_lens`` (relative lengths) is accepted for SpeechBrain compatibility; items shorter than
        the batch are explained with their zero padding.
        """
        lmac = self.mods.lmac
        wavs = wavs.to(self.device)
        out = lmac.mask_of(wavs)
        probs = out["logits"].softmax(dim=-1)
        n = wavs.shape[1]
        audio_in = listenable(lmac.frontend, out["logmag"], out["phase"], out["mask"], n, lmac.mask_domain)
        audio_out = listenable(lmac.frontend, out["logmag"], out["phase"], 1 - out["mask"], n, lmac.mask_domain)
        labels = [self.hparams.label_encoder.decode_ndim(int(i)) for i in probs.argmax(dim=-1)]
        return Interpretation(out["mask"], audio_in, audio_out, labels, probs, out["logmag"])

    def interpret_file(self, path: str) -> Interpretation:
        """Explain one audio file (any format soundfile reads; resampled to ``sample_rate``)."""
        wav = load_audio(path, self.hparams.sample_rate)
        return self.interpret_batch(wav.unsqueeze(0))

    def forward(self, wavs, wav_lens=None):
        """Same as :meth:`interpret_batch`."""
        return self.interpret_batch(wavs, wav_lens)
