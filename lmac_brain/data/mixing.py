"""Mixing a signal with another: the rules shared by every mixer of the data layer.

Three places mix a clip with something else: training noise (:class:`~lmac_brain.data.noise.NoiseMixer`),
training mixtures of two events (:class:`~lmac_brain.data.event_mix.EventMixer`) and the contaminated
evaluation sets (:mod:`lmac_brain.evaluation.evalsets`, :mod:`lmac_brain.evaluation.localization`). They
share the pieces here:

* the mixing rules: :func:`mix_at_snr` (noise or a second event at an SNR over the whole clip),
  :func:`place_event` (an event at an SNR over its own span), :func:`mix_weighted` (the evaluation sets'
  ``w_s s/||s|| + w_n n/||n||``, peak-normalised);
* what is mixed: :func:`random_crop_tiled` (a random window of the other signal, tiled if short),
  :func:`loudest_segment`;
* the SNR: :func:`check_snr` and :func:`draw_value` (a fixed SNR, or one drawn from a range), and
  :func:`crop_and_snr`, which draws both in the order every mixer uses;
* :func:`normalise_together` (a mixture and the clean signal in it, scaled by the mixture's peak);
* the random choices: :func:`keyed_generator` (a generator that depends only on a key, for deterministic
  items) and :class:`SeededMixer`, the base of the training mixers (one seeded generator, re-seeded per
  ``DataLoader`` worker, saved and restored by checkpoints).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import math
import zlib
from typing import Optional, Tuple, Union

import torch
from speechbrain.utils.checkpoints import mark_as_loader, mark_as_saver, register_checkpoint_hooks
from torch.utils.data import get_worker_info

from lmac_brain.data.audio import peak_normalize

SNR = Union[float, Tuple[float, float]]
"""An SNR in dB, or a ``(low, high)`` range to draw it from uniformly."""


def mix_at_snr(clean: torch.Tensor, noise: torch.Tensor, snr_db: Union[float, torch.Tensor]) -> torch.Tensor:
    """Add ``noise`` to ``clean``, scaled so that the mixture has the given SNR.

    The noise is scaled per row so that ``10*log10(||clean||^2 / ||scaled noise||^2) == snr_db``.
    At 0 dB this is the paper's ID rule ``x/||x|| + n/||n||`` multiplied by ``||x||``, i.e. the
    same signal after peak normalisation. The mixture is *not* normalised; callers do that (e.g.
    with :func:`normalise_together`). A silent noise row adds nothing; a silent clean
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


def mix_weighted(clean: torch.Tensor, other: torch.Tensor, w_clean: float, w_other: float) -> torch.Tensor:
    """``peak_normalize(w_clean * s/||s|| + w_other * n/||n||)`` for waveforms ``[N]`` (silent parts guarded).

    The evaluation sets' rule (:data:`lmac_brain.evaluation.evalsets.CONDITIONS`): the same mixture as
    :func:`mix_at_snr` at ``20 log10(w_clean / w_other)`` dB, after peak normalisation, computed in the
    signal's own precision.

    Example
    -------
    >>> s, n = torch.ones(4), torch.tensor([1.0, -1.0, 1.0, -1.0])
    >>> mix_weighted(s, n, 0.8, 0.2)
    tensor([1.0000, 0.6000, 1.0000, 0.6000])
    """
    tiny = torch.finfo(clean.dtype).tiny
    mix = w_clean * clean / clean.norm().clamp(min=tiny) + w_other * other / other.norm().clamp(min=tiny)
    return peak_normalize(mix)


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
        raise ValueError(
            f"place_event: an event of {event.numel()} samples at {start} does not fit in {background.numel()}."
        )
    track = torch.zeros(background.numel(), dtype=background.dtype, device=background.device)
    if bool(event.norm() > 0):  # a silent event stays silent (no SNR is defined for it)
        gain = (background[start:end].norm() / event.norm()) * 10 ** (snr_db / 20)
        track[start:end] = gain * event
    return track + background, track


def normalise_together(mixture: torch.Tensor, clean: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """``mixture`` and the ``clean`` signal in it, both scaled so that the mixture's peak is 1 (unchanged
    if the mixture is silent): ``mixture - clean`` stays what was added.

    Example
    -------
    >>> normalise_together(torch.tensor([0.5, -2.0]), torch.tensor([1.0, 0.0]))
    (tensor([ 0.2500, -1.0000]), tensor([0.5000, 0.0000]))
    """
    peak = mixture.abs().max()
    scale = 1.0 / peak if peak > 1e-8 else 1.0
    return mixture * scale, clean * scale


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


def check_snr(snr_db: SNR) -> SNR:
    """Validate ``snr_db``: a finite number or a ``(low, high)`` pair with low <= high (returned as floats).

    Example
    -------
    >>> check_snr([0, 10]), check_snr(3)
    ((0.0, 10.0), 3.0)
    """
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


def draw_value(value: SNR, generator: torch.Generator) -> float:
    """``value`` itself (e.g. a fixed SNR), or for a ``(low, high)`` range a value drawn uniformly from it
    (one float64 draw of ``generator``; none for a fixed value).

    Example
    -------
    >>> g = torch.Generator().manual_seed(0)
    >>> draw_value(6.0, g), 0.0 <= draw_value((0.0, 10.0), g) <= 10.0
    (6.0, True)
    """
    if isinstance(value, tuple):
        low, high = value
        return low + (high - low) * float(torch.rand(1, generator=generator, dtype=torch.float64))
    return value


def crop_and_snr(
    source: torch.Tensor, wav: torch.Tensor, snr_db: SNR, generator: torch.Generator
) -> Tuple[torch.Tensor, float]:
    """A random crop of ``source`` as long as ``wav`` ``[N]`` (:func:`random_crop_tiled`, in ``wav``'s device
    and dtype), then its SNR (:func:`draw_value`): the two draws every training mixer makes, in this order.

    Example
    -------
    >>> crop, snr = crop_and_snr(torch.randn(50), torch.zeros(80), (0.0, 10.0), torch.Generator().manual_seed(0))
    >>> print(crop.shape, 0.0 <= snr <= 10.0)
    torch.Size([80]) True
    """
    crop = random_crop_tiled(source, wav.numel(), generator).to(device=wav.device, dtype=wav.dtype)
    return crop, draw_value(snr_db, generator)


def keyed_generator(key: str) -> torch.Generator:
    """A generator seeded from ``key`` alone, through ``zlib.crc32`` (unlike Python's ``hash``, not salted per
    process): the same draws in every run, process, worker and machine.

    Example
    -------
    >>> a = torch.rand(1, generator=keyed_generator("1234:5-1-A-0:1"))
    >>> bool(a == torch.rand(1, generator=keyed_generator("1234:5-1-A-0:1")))
    True
    """
    return torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")))


@register_checkpoint_hooks
class SeededMixer:
    """Base of the training mixers: one generator seeded with ``seed`` that advances with every call.

    Inside a ``DataLoader`` worker it is re-seeded from ``seed`` and the worker's seed (:meth:`worker_seed`),
    so that workers do not repeat each other's draws and each epoch differs (still reproducible when the
    global torch seed is set). Its state is saved and restored with the checkpoints (SpeechBrain's hooks),
    so a resumed run draws what an uninterrupted one would. Subclasses define :meth:`mix`.

    Arguments
    ---------
    seed : int
        Seed of the random choices.

    Example
    -------
    >>> class Louder(SeededMixer):
    ...     def mix(self, wav, item_id=None):
    ...         return normalise_together(wav * (1 + torch.rand(1, generator=self.running_generator())), wav)
    >>> print(Louder(seed=0)(torch.tensor([0.5, -0.25])))
    tensor([ 1.0000, -0.5000])
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._generator = torch.Generator().manual_seed(self.seed)
        self._worker_seed: Optional[int] = None

    def __call__(self, wav: torch.Tensor, item_id: Optional[str] = None) -> torch.Tensor:
        """The mixture alone: ``self.mix(wav, item_id)[0]``."""
        return self.mix(wav, item_id)[0]

    def mix(self, wav: torch.Tensor, item_id: Optional[str] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mixture and the clean clip as it appears in it, ``[N]`` each (defined by the subclass)."""
        raise NotImplementedError

    def worker_seed(self, worker_seed: int) -> int:
        """The seed of the generator inside a ``DataLoader`` worker whose torch seed is ``worker_seed``."""
        return zlib.crc32(f"{self.seed}:{worker_seed}".encode("ascii"))

    def running_generator(self) -> torch.Generator:
        """The generator that advances with every call, re-seeded once in each ``DataLoader`` worker."""
        info = get_worker_info()
        if info is not None and info.seed != self._worker_seed:
            # Each worker holds a copy of this object with the parent's generator state; without
            # re-seeding, all workers (and all epochs) would draw the same choices.
            self._worker_seed = info.seed
            self._generator.manual_seed(self.worker_seed(info.seed))
        return self._generator

    @mark_as_saver
    def save_state(self, path) -> None:
        """Checkpoint hook: the generator's state (a mixer this one hands clips to is a recoverable of its own)."""
        torch.save({"generator": self._generator.get_state()}, path)

    @mark_as_loader
    def load_state(self, path, end_of_epoch: bool) -> None:
        """Checkpoint hook: restore the generator's state."""
        self._generator.set_state(torch.load(path, weights_only=False)["generator"])
