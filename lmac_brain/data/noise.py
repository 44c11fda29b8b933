"""Real background noise: mix a clip with noise at a given SNR.

The paper's in-domain (ID) condition mixes each clip with real noise at 0 dB,
``x/||x|| + n/||n||``, then peak-normalises. :func:`~lmac_brain.data.mixing.mix_at_snr` is that rule
for any SNR (with the other rules every mixer shares, in :mod:`lmac_brain.data.mixing`) and
:class:`NoiseMixer` applies it with noise files from a folder. The reference draws its noise
unseeded at train, validation and test time; here evaluation noise can be made deterministic
per item (``deterministic=True``), so every explainer sees the same mixture of a clip.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging
import os
from typing import List, Optional, Tuple

import torch

from lmac_brain.data.audio import PathLike, load_audio
from lmac_brain.data.files import list_audio_files
from lmac_brain.data.mixing import (
    SNR,
    SeededMixer,
    check_snr,
    crop_and_snr,
    keyed_generator,
    mix_at_snr,
    normalise_together,
)

logger = logging.getLogger(__name__)


class NoiseMixer(SeededMixer):
    """Mix clips with real background noise from a folder, at a fixed or random SNR.

    Every audio file under ``noise_folder`` (:func:`lmac_brain.data.files.list_audio_files`: recursive,
    sorted by relative path, so the order is the same on every machine) is loaded once at construction
    (mono, at ``sample_rate``, not normalised) and kept in memory: noise sets are small. Each call picks a
    noise file and a random crop as long as the clip (a shorter noise is tiled), mixes it at ``snr_db`` with
    :func:`mix_at_snr` and peak-normalises the result.

    With ``deterministic=True`` the file, the crop offset and the SNR depend only on
    ``(seed, item_id)`` (through ``zlib.crc32``, which, unlike Python's ``hash``, is not salted
    per process), so the same item gets a bit-identical mixture in every run, process and worker:
    use this for validation and test. Otherwise one generator seeded with ``seed`` advances with
    every call (training). Inside a ``DataLoader`` worker it is re-seeded from ``seed`` and the
    worker's seed, so that workers do not repeat each other's noise and each epoch differs (still
    reproducible when the global torch seed is set).

    Arguments
    ---------
    noise_folder : str or os.PathLike
        Folder searched recursively for noise files.
    sample_rate : int
        Sample rate of the clips, in Hz; noise is resampled to it.
    snr_db : float or (float, float)
        SNR in dB, or a ``(low, high)`` range to draw it uniformly from for each call.
    seed : int
        Seed of the random choices.
    deterministic : bool
        Make every choice a function of ``(seed, item_id)``; ``item_id`` is then required.

    Raises
    ------
    FileNotFoundError
        If the folder is missing.
    ValueError
        If the folder holds no audio (:func:`lmac_brain.data.files.list_audio_files`), or a noise file is
        silent; if ``snr_db`` is not finite or its range is reversed.
    lmac_brain.data.audio.AudioLoadError
        If a noise file cannot be read.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> folder = getfixture("tmpdir").mkdir("noise")
    >>> rng = np.random.default_rng(0)
    >>> sf.write(str(folder / "hum.flac"), 0.1 * rng.standard_normal(4000), 16000)
    >>> sf.write(str(folder / "fan.wav"), 0.1 * rng.standard_normal(12000), 16000)
    >>> mixer = NoiseMixer(folder, snr_db=0.0, deterministic=True)
    >>> clip = torch.sin(torch.arange(8000) * 0.05)
    >>> out = mixer(clip, item_id="1-100032-A-0")
    >>> print(out.shape, float(out.abs().max()))
    torch.Size([8000]) 1.0
    >>> bool(torch.equal(out, NoiseMixer(folder, deterministic=True)(clip, "1-100032-A-0")))
    True
    """

    def __init__(
        self,
        noise_folder: PathLike,
        sample_rate: int = 16000,
        snr_db: SNR = 0.0,
        seed: int = 1234,
        deterministic: bool = False,
    ) -> None:
        self.noise_folder = os.path.abspath(os.fspath(noise_folder))
        self.sample_rate = int(sample_rate)
        self.snr_db = check_snr(snr_db)
        super().__init__(seed)
        self.deterministic = bool(deterministic)
        try:
            self.files = list_audio_files(self.noise_folder, kind="noise")
        except (FileNotFoundError, ValueError) as err:
            raise type(err)(f"{err} Point noise_folder at a folder of background noise recordings.") from None
        self.noises: List[torch.Tensor] = []
        for path in self.files:
            noise = load_audio(path, self.sample_rate, normalize=False)
            if not bool(noise.abs().max() > 0):
                raise ValueError(f"{path}: the noise file is silent (all zeros). Remove it from {self.noise_folder}.")
            self.noises.append(noise)
        logger.info(
            "NoiseMixer: %d noise files from %s (%.1f s in all), snr_db=%s, deterministic=%s",
            len(self.files),
            self.noise_folder,
            sum(len(n) for n in self.noises) / self.sample_rate,
            self.snr_db,
            self.deterministic,
        )

    def mix(self, wav: torch.Tensor, item_id: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mixture and the clean clip as it appears in it (both scaled by the same peak normaliser).

        The second output is what a perfect separator would recover from the mixture; the L-MAC FT
        stage compares masks against it.

        Arguments
        ---------
        wav : torch.Tensor
            ``[N]`` clip at ``sample_rate``.
        item_id : str, optional
            ID of the clip; required when ``deterministic=True``.

        Returns
        -------
        mixture : torch.Tensor
            ``[N]``, peak 1.
        clean : torch.Tensor
            ``[N]``, ``wav`` scaled like the mixture (``mixture - clean`` is the scaled noise).

        Example
        -------
        >>> import numpy as np, soundfile as sf
        >>> folder = getfixture("tmpdir").mkdir("noise")
        >>> sf.write(str(folder / "n.wav"), np.random.default_rng(0).standard_normal(800), 16000)
        >>> mixture, clean = NoiseMixer(folder, snr_db=0.0).mix(torch.ones(2000))
        >>> print(round(float(10 * torch.log10(clean.pow(2).sum() / (mixture - clean).pow(2).sum())), 3) + 0.0)
        0.0
        >>> NoiseMixer(folder, snr_db=(0.0, 10.0))(torch.ones(2000)).shape  # the mixture alone
        torch.Size([2000])
        """
        if wav.dim() != 1 or wav.numel() == 0:
            raise ValueError(
                f"NoiseMixer expects one non-empty waveform [N], got shape {tuple(wav.shape)}; call "
                "it per clip (e.g. in the data pipeline, before batching)."
            )
        generator = self._generator_for(item_id)
        noise = self.noises[int(torch.randint(len(self.noises), (1,), generator=generator))]
        crop, snr = crop_and_snr(noise, wav, self.snr_db, generator)
        return normalise_together(mix_at_snr(wav, crop, snr), wav)

    def _generator_for(self, item_id: Optional[str]) -> torch.Generator:
        """The generator for this call: per item when deterministic, else the running one."""
        if self.deterministic:
            if not isinstance(item_id, str):
                raise ValueError(
                    f"NoiseMixer(deterministic=True) needs the clip's item_id (a str) to choose its "
                    f"noise, got {item_id!r}. Pass the manifest ID, e.g. mixer(wav, item_id=row_id)."
                )
            # crc32 of the seed's digits, continued over the item's ID
            return keyed_generator(f"{self.seed}{item_id}")
        return self.running_generator()
