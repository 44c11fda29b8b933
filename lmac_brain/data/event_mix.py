"""Training mixtures of two events: a share of the clips gets another clip as its background.

The mixtures evaluation set (:mod:`lmac_brain.evaluation.evalsets`) puts a second ESC-50 event under the
explained one (``0.8 s/||s|| + 0.2 n/||n||``, 12 dB); a decoder trained only over background noise never
sees an event it must leave out. :class:`EventMixer` mixes a share of the training clips with another
training clip at an SNR drawn from a range, and hands the rest to the usual noise mixer.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

import torch

from lmac_brain.data.audio import PathLike, load_audio, peak_normalize
from lmac_brain.data.mixing import SNR, SeededMixer, check_snr, crop_and_snr, mix_at_snr, normalise_together
from lmac_brain.data.noise import NoiseMixer


class EventMixer(SeededMixer):
    """With probability ``share``, mix a clip with another clip from ``files``; otherwise use ``otherwise``.

    The other clip is drawn uniformly from ``files`` (never the clip itself: a file whose ID is the clip's
    ``item_id`` is skipped), read at call time, cropped (or tiled) to the clip's
    length at a random offset, and mixed at an SNR drawn uniformly from ``snr_db`` with
    :func:`~lmac_brain.data.mixing.mix_at_snr`; the result is peak-normalised, as
    :meth:`NoiseMixer.mix <lmac_brain.data.noise.NoiseMixer.mix>` does. A crop of the other clip that is
    all silence leaves the clip alone. Training only: one seeded generator advances with every call
    (re-seeded per ``DataLoader`` worker and checkpointed: :class:`~lmac_brain.data.mixing.SeededMixer`).

    Arguments
    ---------
    files : sequence of str or os.PathLike
        Audio files to draw the second event from (e.g. the training clips).
    otherwise : NoiseMixer, optional
        Mixer for the clips not mixed with an event (e.g. real noise at 0 dB); None leaves them clean
        (peak-normalised).
    share : float
        Share of the calls mixed with another event, in ``[0, 1]``.
    snr_db : float or (float, float)
        SNR of the clip over the other event, in dB, or a ``(low, high)`` range (the mixtures set: 12 dB).
    sample_rate : int
        Sample rate of the clips, in Hz.
    seed : int
        Seed of the random choices.
    ids : sequence of str, optional
        The files' item IDs (default: their names without extension), to recognise the clip itself.

    Raises
    ------
    ValueError
        If ``files`` is empty or ``ids`` does not match it, ``share`` is not in ``[0, 1]`` or ``snr_db`` is invalid.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> tmp = getfixture("tmpdir")
    >>> rng = np.random.default_rng(0)
    >>> sf.write(str(tmp / "hum.wav"), 0.1 * rng.standard_normal(4000), 16000)
    >>> sf.write(str(tmp / "dog.wav"), np.sin(np.arange(8000) * 0.3), 16000)
    >>> mixer = EventMixer([str(tmp / "dog.wav")], NoiseMixer(str(tmp), snr_db=0.0), share=1.0, snr_db=12.0)
    >>> clip = torch.sin(torch.arange(8000) * 0.05)
    >>> mixture, clean = mixer.mix(clip, "bird")
    >>> other = mixture - clean  # the dog, 12 dB under the clip
    >>> snr_db = 10 * torch.log10(clean.pow(2).sum() / other.pow(2).sum())
    >>> print(round(float(snr_db), 2), round(float(mixture.abs().max()), 4))
    12.0 1.0
    """

    def __init__(
        self,
        files: Sequence[PathLike],
        otherwise: Optional[NoiseMixer],
        share: float,
        snr_db: SNR = (6.0, 18.0),
        sample_rate: int = 16000,
        seed: int = 1234,
        ids: Optional[Sequence[str]] = None,
    ) -> None:
        if not files:
            raise ValueError("EventMixer needs at least one audio file to draw the second event from.")
        if not 0.0 <= float(share) <= 1.0:
            raise ValueError(f"share is the share of clips mixed with another event, in [0, 1]; got {share!r}.")
        self.files = [os.fspath(f) for f in files]
        self.ids = [os.path.splitext(os.path.basename(f))[0] for f in self.files] if ids is None else list(ids)
        if len(self.ids) != len(self.files):
            raise ValueError(f"EventMixer got {len(self.files)} files and {len(self.ids)} ids; give one id per file.")
        self.otherwise, self.share = otherwise, float(share)
        self.snr_db, self.sample_rate = check_snr(snr_db), int(sample_rate)
        super().__init__(seed)

    def mix(self, wav: torch.Tensor, item_id: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mixture and the clip as it appears in it, ``[N]`` each (as :meth:`NoiseMixer.mix`)."""
        generator = self.running_generator()
        if float(torch.rand(1, generator=generator)) >= self.share:
            if self.otherwise is None:
                clean = peak_normalize(wav)
                return clean, clean
            return self.otherwise.mix(wav, item_id)
        index = int(torch.randint(len(self.files), (1,), generator=generator))
        if self.ids[index] == item_id and len(self.files) > 1:
            index = (index + 1) % len(self.files)
        other = load_audio(self.files[index], self.sample_rate)
        crop, snr = crop_and_snr(other, wav, self.snr_db, generator)
        return normalise_together(mix_at_snr(wav, crop, snr), wav)

    def worker_seed(self, worker_seed: int) -> int:
        """This mixer's own rule for the generator's seed in a ``DataLoader`` worker (not the base class's
        crc32 rule: kept so that runs with workers draw what they drew before)."""
        return (self.seed * 1000003 + worker_seed) % 2**63
