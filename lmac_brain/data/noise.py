"""Real background noise: mix a clip with noise at a given SNR.

The paper's in-domain (ID) condition mixes each clip with real noise at 0 dB,
``x/||x|| + n/||n||``, then peak-normalises. :func:`mix_at_snr` is that rule for any SNR and
:class:`NoiseMixer` applies it with noise files from a folder. The reference draws its noise
unseeded at train, validation and test time; here evaluation noise can be made deterministic
per item (``deterministic=True``), so every explainer sees the same mixture of a clip.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging
import math
import os
import zlib
from typing import List, Optional, Tuple, Union

import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from torch.utils.data import get_worker_info

from lmac_brain.data.audio import PathLike, load_audio
from lmac_brain.data.files import list_audio_files

logger = logging.getLogger(__name__)

SNR = Union[float, Tuple[float, float]]


def mix_at_snr(
    clean: torch.Tensor, noise: torch.Tensor, snr_db: Union[float, torch.Tensor]
) -> torch.Tensor:
    """Add ``noise`` to ``clean``, scaled so that the mixture has the given SNR.

    The noise is scaled per row so that ``10*log10(||clean||^2 / ||scaled noise||^2) == snr_db``.
    At 0 dB this is the paper's ID rule ``x/||x|| + n/||n||`` multiplied by ``||x||``, i.e. the
    same signal after peak normalisation. The mixture is *not* normalised; callers do that (e.g.
    with :func:`lmac_brain.data.audio.peak_normalize`). A silent noise row adds nothing; a silent clean
    row stays silent (no SNR is defined for it). Neither gives NaN.

    Arguments
    ---------
    clean : torch.Tensor
        ``[..., N]`` signal, e.g. ``[N]`` or ``[B, N]``.
    noise : torch.Tensor
        ``[..., N]`` noise, same shape as ``clean``.
    snr_db : float or torch.Tensor
        Target SNR in dB: a scalar, or a tensor of shape ``clean.shape[:-1]`` (e.g. ``[B]``) with
        one SNR per row.

    Returns
    -------
    torch.Tensor
        ``[..., N]`` mixture, dtype of ``clean``.

    Example
    -------
    >>> clean, noise = torch.randn(2, 16000), torch.randn(2, 16000)
    >>> mix = mix_at_snr(clean, noise, torch.tensor([0.0, 10.0]))
    >>> snr = 10 * torch.log10(clean.pow(2).sum(-1) / (mix - clean).pow(2).sum(-1))
    >>> [round(v, 3) + 0.0 for v in snr.tolist()]
    [0.0, 10.0]
    >>> paper = clean / clean.norm(dim=-1, keepdim=True) + noise / noise.norm(dim=-1, keepdim=True)
    >>> bool(torch.allclose(mix[0] / clean[0].norm(), paper[0], atol=1e-5))
    True
    """
    if clean.shape != noise.shape or clean.dim() == 0:
        raise ValueError(
            f"mix_at_snr expects clean and noise of the same shape [..., N]; got {tuple(clean.shape)} "
            f"and {tuple(noise.shape)}. Crop or tile the noise to the clip length first."
        )
    snr = torch.as_tensor(snr_db, dtype=torch.float64, device=clean.device)
    if snr.dim() > 0:
        if snr.shape != clean.shape[:-1]:
            raise ValueError(
                f"snr_db of shape {tuple(snr.shape)} does not match the rows of clean "
                f"{tuple(clean.shape)}; pass a scalar or one SNR per row, shape "
                f"{tuple(clean.shape[:-1])}."
            )
        snr = snr.unsqueeze(-1)
    if not torch.isfinite(snr).all():
        raise ValueError(f"snr_db must be finite, got {snr_db}.")
    # Energies in float64 so that the SNR is met to well below 0.01 dB even for float32 inputs.
    clean_energy = clean.double().pow(2).sum(-1, keepdim=True)
    noise_energy = noise.double().pow(2).sum(-1, keepdim=True)
    silent = (noise_energy <= 0) | (clean_energy <= 0)
    gain = torch.sqrt(clean_energy / (noise_energy.clamp_min(1e-300) * 10.0 ** (snr / 10.0)))
    gain = torch.where(silent, torch.zeros_like(gain), gain)
    return clean + (noise.double() * gain).to(clean.dtype)


def random_crop_tiled(signal: torch.Tensor, n_samples: int, generator: torch.Generator) -> torch.Tensor:
    """A random window of ``n_samples`` from ``signal`` ``[N]``; a shorter signal is tiled.

    A long signal starts anywhere it fits; a shorter one is tiled from a random start, so that every
    sample position can come first.

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> print(random_crop_tiled(torch.arange(3.0), 7, g).shape, random_crop_tiled(torch.arange(10.0), 4, g).shape)
    torch.Size([7]) torch.Size([4])
    """
    n_signal = signal.numel()
    n_starts = n_signal - n_samples + 1 if n_signal >= n_samples else n_signal
    offset = int(torch.randint(n_starts, (1,), generator=generator))
    if n_signal < n_samples:
        signal = signal.repeat(math.ceil((offset + n_samples) / n_signal))
    return signal[offset : offset + n_samples]


def loudest_segment(wav: torch.Tensor, n_samples: int) -> torch.Tensor:
    """The window of ``n_samples`` with the highest energy (whole signal, zero-padded, if shorter).

    Example
    -------
    >>> x = torch.zeros(10); x[6] = 1.0
    >>> loudest_segment(x, 3).tolist()
    [0.0, 0.0, 1.0]
    """
    if wav.numel() <= n_samples:
        return torch.nn.functional.pad(wav, (0, n_samples - wav.numel()))
    # the energy of every window from a running sum (float64: exact enough to rank windows), O(N)
    running = torch.nn.functional.pad(wav.double().pow(2).cumsum(0), (1, 0))
    energy = running[n_samples:] - running[:-n_samples]
    start = int(energy.argmax())
    return wav[start : start + n_samples]


def place_event(
    event: torch.Tensor, background: torch.Tensor, start: int, snr_db: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Put ``event`` ``[L]`` into ``background`` ``[N]`` at sample ``start``, at ``snr_db`` over its span.

    The event is scaled so that its energy is ``snr_db`` above that of the background under it
    (``[start, start + L)``); nothing is normalised. Returns the mixture and the event's track (the
    scaled event at its place, zeros elsewhere), both ``[N]``. A silent event adds nothing.

    Example
    -------
    >>> mixture, track = place_event(torch.ones(2), torch.full((6,), 0.5), 3, 0.0)
    >>> print(mixture.tolist(), track.tolist())
    [0.5, 0.5, 0.5, 1.0, 1.0, 0.5] [0.0, 0.0, 0.0, 0.5, 0.5, 0.0]
    >>> place_event(torch.zeros(2), torch.full((6,), 0.5), 3, 0.0)[1].abs().max().item()  # silent: no NaN
    0.0
    """
    end = start + event.numel()
    if start < 0 or end > background.numel():
        raise ValueError(f"place_event: an event of {event.numel()} samples at {start} does not fit in {background.numel()}.")
    track = torch.zeros(background.numel(), dtype=background.dtype, device=background.device)
    if bool(event.norm() > 0):  # a silent event stays silent (no SNR is defined for it)
        gain = (background[start:end].norm() / event.norm()) * 10 ** (snr_db / 20)
        track[start:end] = gain * event
    return track + background, track


@register_checkpoint_hooks
class NoiseMixer:
    """Mix clips with real background noise from a folder, at a fixed or random SNR.

    Every audio file under ``noise_folder`` (:func:`lmac_brain.data.files.list_audio_files`: recursive,
    sorted by relative path, so the order is the same on every machine) is loaded once at construction (mono, at ``sample_rate``, not
    normalised) and kept in memory: noise sets are small. Each call picks a noise file and a
    random crop as long as the clip (a shorter noise is tiled), mixes it at ``snr_db`` with
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
    event_share : float
        Share of the calls (drawn per call) that, instead of mixing the whole clip, keep only its
        loudest ``event_s`` seconds (:func:`loudest_segment`) and place them at a random time over the
        noise crop, at the SNR over the event's span (:func:`place_event`), as the localization
        benchmark builds its items (:class:`~lmac_brain.evaluation.localization.LocalizationSet`): a short
        event in a longer background. 0 (default): never.
    event_s : (float, float)
        Range the placed event's length is drawn from, in seconds (uniformly, per call; at most the
        clip's length less one sample).

    Raises
    ------
    FileNotFoundError
        If the folder is missing.
    ValueError
        If the folder holds no audio (:func:`lmac_brain.data.files.list_audio_files`), or a noise file is
        silent; if ``snr_db`` is not finite or its range is reversed; if ``event_share`` is not in
        ``[0, 1]`` or ``event_s`` is not a positive ``(low, high)`` range.
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
        event_share: float = 0.0,
        event_s: Tuple[float, float] = (0.5, 2.0),
    ) -> None:
        if not 0.0 <= float(event_share) <= 1.0:
            raise ValueError(f"event_share is the share of clips placed as a short event, in [0, 1]; got {event_share!r}.")
        if len(event_s) != 2 or not 0.0 < float(event_s[0]) <= float(event_s[1]):
            raise ValueError(f"event_s must be a (low, high) range of seconds with 0 < low <= high, e.g. (0.5, 2.0); got {event_s!r}.")
        self.event_share, self.event_s = float(event_share), (float(event_s[0]), float(event_s[1]))
        self.noise_folder = os.path.abspath(os.fspath(noise_folder))
        self.sample_rate = int(sample_rate)
        self.snr_db = _check_snr(snr_db)
        self.seed = int(seed)
        self.deterministic = bool(deterministic)
        try:
            self.files = list_audio_files(self.noise_folder, kind="noise")
        except (FileNotFoundError, ValueError) as err:
            raise type(err)(f"{err} Point noise_folder at a folder of background noise recordings.") from None
        self.noises: List[torch.Tensor] = []
        for path in self.files:
            noise = load_audio(path, self.sample_rate, normalize=False)
            if not bool(noise.abs().max() > 0):
                raise ValueError(
                    f"{path}: the noise file is silent (all zeros). Remove it from {self.noise_folder}."
                )
            self.noises.append(noise)
        self._generator = torch.Generator().manual_seed(self.seed)
        self._worker_seed: Optional[int] = None
        logger.info(
            "NoiseMixer: %d noise files from %s (%.1f s in all), snr_db=%s, deterministic=%s, event_share=%s",
            len(self.files),
            self.noise_folder,
            sum(len(n) for n in self.noises) / self.sample_rate,
            self.snr_db,
            self.deterministic,
            self.event_share,
        )

    def __call__(self, wav: torch.Tensor, item_id: Optional[str] = None) -> torch.Tensor:
        """Return ``wav`` mixed with a noise crop at the configured SNR, peak-normalised: ``[N]``, peak 1
        (unless everything is silent). Same as ``self.mix(wav, item_id)[0]`` (arguments: :meth:`mix`).

        Example
        -------
        >>> import numpy as np, soundfile as sf
        >>> folder = getfixture("tmpdir").mkdir("noise")
        >>> sf.write(str(folder / "n.wav"), np.random.default_rng(0).standard_normal(800), 16000)
        >>> NoiseMixer(folder, snr_db=(0.0, 10.0))(torch.ones(2000)).shape
        torch.Size([2000])
        """
        return self.mix(wav, item_id)[0]

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
            ``[N]``, ``wav`` scaled like the mixture (``mixture - clean`` is the scaled noise); for a
            clip placed as a short event (``event_share``), the event's track.

        Example
        -------
        >>> import numpy as np, soundfile as sf
        >>> folder = getfixture("tmpdir").mkdir("noise")
        >>> sf.write(str(folder / "n.wav"), np.random.default_rng(0).standard_normal(800), 16000)
        >>> mixture, clean = NoiseMixer(folder, snr_db=0.0).mix(torch.ones(2000))
        >>> print(round(float(10 * torch.log10(clean.pow(2).sum() / (mixture - clean).pow(2).sum())), 3) + 0.0)
        0.0
        """
        if wav.dim() != 1 or wav.numel() == 0:
            raise ValueError(
                f"NoiseMixer expects one non-empty waveform [N], got shape {tuple(wav.shape)}; call "
                "it per clip (e.g. in the data pipeline, before batching)."
            )
        generator = self._generator_for(item_id)
        noise = self.noises[int(torch.randint(len(self.noises), (1,), generator=generator))]
        crop = random_crop_tiled(noise, wav.numel(), generator).to(device=wav.device, dtype=wav.dtype)
        if isinstance(self.snr_db, tuple):
            low, high = self.snr_db
            snr = low + (high - low) * float(torch.rand(1, generator=generator, dtype=torch.float64))
        else:
            snr = self.snr_db
        if self.event_share > 0 and float(torch.rand(1, generator=generator)) < self.event_share:
            low, high = self.event_s
            seconds = low + (high - low) * float(torch.rand(1, generator=generator, dtype=torch.float64))
            n_event = max(1, min(int(seconds * self.sample_rate), wav.numel() - 1))
            start = int(torch.randint(wav.numel() - n_event + 1, (1,), generator=generator))
            mixture, wav = place_event(loudest_segment(wav, n_event), crop, start, snr)
        else:
            mixture = mix_at_snr(wav, crop, snr)
        peak = mixture.abs().max()
        scale = 1.0 / peak if peak > 1e-8 else 1.0
        return mixture * scale, wav * scale

    @mark_as_saver
    def save_state(self, path) -> None:
        """Checkpoint hook: the training generator's state (so a resumed run draws the same noise)."""
        torch.save({"generator": self._generator.get_state()}, path)

    @mark_as_loader
    def load_state(self, path, end_of_epoch: bool) -> None:
        """Checkpoint hook: restore the training generator's state."""
        self._generator.set_state(torch.load(path, weights_only=False)["generator"])

    def _generator_for(self, item_id: Optional[str]) -> torch.Generator:
        """The generator for this call: per item when deterministic, else the running one."""
        if self.deterministic:
            if not isinstance(item_id, str):
                raise ValueError(
                    f"NoiseMixer(deterministic=True) needs the clip's item_id (a str) to choose its "
                    f"noise, got {item_id!r}. Pass the manifest ID, e.g. mixer(wav, item_id=row_id)."
                )
            key = zlib.crc32(item_id.encode("utf-8"), zlib.crc32(str(self.seed).encode("ascii")))
            return torch.Generator().manual_seed(key)
        info = get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            # Each worker holds a copy of this object with the parent's generator state; without
            # re-seeding, all workers (and all epochs) would draw the same noise.
            self._worker_seed = info.seed
            self._generator.manual_seed(zlib.crc32(f"{self.seed}:{info.seed}".encode("ascii")))
        return self._generator


def _check_snr(snr_db: SNR) -> SNR:
    """Validate ``snr_db``: a finite number or a ``(low, high)`` pair with low <= high."""
    if isinstance(snr_db, (tuple, list)):
        if len(snr_db) != 2 or not all(math.isfinite(float(v)) for v in snr_db) or snr_db[0] > snr_db[1]:
            raise ValueError(
                f"snr_db range {snr_db!r} is invalid; give a finite (low, high) pair with low <= high, "
                "e.g. (0.0, 10.0)."
            )
        return (float(snr_db[0]), float(snr_db[1]))
    if not math.isfinite(float(snr_db)):
        raise ValueError(f"snr_db must be a finite number of dB or a (low, high) pair, got {snr_db!r}.")
    return float(snr_db)
