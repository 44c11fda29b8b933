"""Time-frequency front end shared by the classifier, the L-MAC decoder and every explainer.

One object computes, from a waveform ``[B, N]``:

* the linear-frequency log-magnitude ``log1p|X|`` ``[B, T, F]`` (the domain the L-MAC mask lives in),
* the phase ``angle(X)`` ``[B, T, F]`` (kept to make explanations listenable),
* the classifier input ``log1p(Mel(|X|))`` ``[B, T, n_mels]``, computed from ``log1p|X|`` so that a
  masked log-magnitude can be scored by the classifier,

and inverts a (masked) log-magnitude with a given phase back to a waveform of exactly the input
length. STFT, ISTFT and the mel filterbank are SpeechBrain's modules.

Defaults follow the L-MAC paper at 16 kHz (REFERENCE §1): ``n_fft=1024``, Hamming window of 372
samples, hop 186 samples, centred, zero padding; 80 HTK triangular mel filters from 0 to 8 kHz applied
to the magnitude. A 5 s clip gives ``T = 431`` frames and ``F = 513`` bins.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Tuple

import torch
from speechbrain.processing.features import ISTFT, STFT, Filterbank

MASK_DOMAINS = ("log1p", "linear")


class Frontend(torch.nn.Module):
    """STFT / log-magnitude / mel / inverse-STFT front end.

    Arguments
    ---------
    sample_rate : int
        Sample rate of the waveforms, in Hz.
    n_fft : int
        FFT size; ``F = n_fft // 2 + 1`` frequency bins.
    win_length : int
        Hamming window length, in samples.
    hop_length : int
        Hop between frames, in samples.
    n_mels : int
        Number of mel filters of the classifier input.
    f_min, f_max : float
        Frequency range of the mel filters, in Hz (``f_max=None`` means ``sample_rate / 2``).

    Example
    -------
    >>> fe = Frontend()
    >>> wav = torch.randn(2, 80000)
    >>> logmag, phase = fe.log_magnitude_phase(wav)
    >>> print(logmag.shape, fe.features(logmag).shape)
    torch.Size([2, 431, 513]) torch.Size([2, 431, 80])
    >>> rec = fe.invert(logmag, phase, length=80000)
    >>> print(rec.shape, bool((rec - wav).abs().max() < 1e-3))
    torch.Size([2, 80000]) True
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        win_length: int = 372,
        hop_length: int = 186,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float | None = None,
    ):
        super().__init__()
        if win_length > n_fft:
            raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft}).")
        self.sample_rate, self.n_fft, self.win_length, self.hop_length = sample_rate, n_fft, win_length, hop_length
        self.n_mels, self.f_min = n_mels, f_min
        self.f_max = sample_rate / 2 if f_max is None else f_max
        # SpeechBrain's STFT/ISTFT take window and hop in milliseconds and round to samples.
        to_ms = 1000.0 / sample_rate
        stft_args = dict(
            sample_rate=sample_rate,
            n_fft=n_fft,
            win_length=win_length * to_ms,
            hop_length=hop_length * to_ms,
            window_fn=torch.hamming_window,
            center=True,
        )
        self.stft = STFT(pad_mode="constant", **stft_args)
        self.istft = ISTFT(**stft_args)
        self.fbank = Filterbank(
            n_mels=n_mels,
            log_mel=False,
            filter_shape="triangular",
            f_min=f_min,
            f_max=self.f_max,
            n_fft=n_fft,
            sample_rate=sample_rate,
        )

    @property
    def n_freqs(self) -> int:
        """Number of linear frequency bins ``F``."""
        return self.n_fft // 2 + 1

    def n_frames(self, n_samples: int) -> int:
        """Number of STFT frames ``T`` for a waveform of ``n_samples`` samples (centred STFT).

        Example
        -------
        >>> Frontend().n_frames(80000)
        431
        """
        return 1 + n_samples // self.hop_length

    def log_magnitude_phase(self, wav: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Compute ``log1p|X|`` and the phase of the STFT of ``wav``.

        Arguments
        ---------
        wav : torch.Tensor
            Waveforms ``[B, N]``.

        Returns
        -------
        logmag : torch.Tensor
            ``log1p|X|``, ``[B, T, F]``.
        phase : torch.Tensor
            ``angle(X)``, ``[B, T, F]``.

        Example
        -------
        >>> logmag, phase = Frontend().log_magnitude_phase(torch.zeros(1, 16000))
        >>> print(logmag.shape, float(logmag.sum()))
        torch.Size([1, 87, 513]) 0.0
        """
        spec = self._stft(wav)
        real, imag = spec[..., 0], spec[..., 1]
        return torch.log1p(torch.sqrt(real**2 + imag**2)), torch.atan2(imag, real)

    def log_magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """``log1p|X|`` ``[B, T, F]`` of waveforms ``[B, N]``, as :meth:`log_magnitude_phase` without the phase.

        Example
        -------
        >>> fe, wav = Frontend(), torch.randn(2, 8000)
        >>> torch.equal(fe.log_magnitude(wav), fe.log_magnitude_phase(wav)[0])
        True
        """
        spec = self._stft(wav)
        return torch.log1p(torch.sqrt(spec[..., 0] ** 2 + spec[..., 1] ** 2))

    def _stft(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() != 2:
            raise ValueError(f"Expected waveforms [B, N], got shape {tuple(wav.shape)}.")
        return self.stft(wav)  # [B, T, F, 2]

    def features(self, logmag: torch.Tensor) -> torch.Tensor:
        """Classifier input ``log1p(Mel(|X|))`` from a (possibly masked) ``log1p|X|``.

        Arguments
        ---------
        logmag : torch.Tensor
            ``log1p|X|``, ``[B, T, F]``.

        Returns
        -------
        torch.Tensor
            Log-mel features ``[B, T, n_mels]``.

        Example
        -------
        >>> fe = Frontend(n_mels=40)
        >>> print(fe.features(torch.rand(3, 10, 513)).shape)
        torch.Size([3, 10, 40])
        """
        self._check_freqs(logmag)
        return torch.log1p(self.fbank(torch.expm1(logmag)))

    def wav_to_features(self, wav: torch.Tensor) -> torch.Tensor:
        """Classifier input straight from waveforms ``[B, N]`` -> ``[B, T, n_mels]``.

        Example
        -------
        >>> print(Frontend().wav_to_features(torch.randn(2, 8000)).shape)
        torch.Size([2, 44, 80])
        """
        return self.features(self.log_magnitude(wav))

    def apply_mask(self, logmag: torch.Tensor, mask: torch.Tensor, domain: str = "log1p") -> torch.Tensor:
        """Apply a mask ``M`` in ``[0, 1]`` to ``log1p|X|``; the result is again a log1p magnitude.

        ``domain="log1p"`` (reference code): ``M * log1p|X|``, i.e. ``(1 + |X|)^M - 1`` in linear terms.
        ``domain="linear"`` (paper text): ``log1p(M * |X|)``. Both agree for binary masks.

        Arguments
        ---------
        logmag : torch.Tensor
            ``log1p|X|``, ``[B, T, F]``.
        mask : torch.Tensor
            ``[B, T, F]`` in ``[0, 1]``.
        domain : str
            ``"log1p"`` or ``"linear"``.

        Returns
        -------
        torch.Tensor
            Masked ``log1p`` magnitude ``[B, T, F]``.

        Example
        -------
        >>> fe = Frontend()
        >>> logmag = torch.log1p(torch.full((1, 2, 513), 3.0))
        >>> half = torch.full((1, 2, 513), 0.5)
        >>> print(round(float(fe.apply_mask(logmag, half, "log1p").expm1()[0, 0, 0]), 3))
        1.0
        >>> print(round(float(fe.apply_mask(logmag, half, "linear").expm1()[0, 0, 0]), 3))
        1.5
        """
        if mask.shape != logmag.shape:
            raise ValueError(
                f"Mask shape {tuple(mask.shape)} does not match the spectrogram shape "
                f"{tuple(logmag.shape)} ([B, T, F])."
            )
        if domain == "log1p":
            return mask * logmag
        if domain == "linear":
            return torch.log1p(mask * torch.expm1(logmag))
        raise ValueError(f"Unknown mask domain {domain!r}; choose one of {MASK_DOMAINS}.")

    def invert(self, logmag: torch.Tensor, phase: torch.Tensor, length: int) -> torch.Tensor:
        """Waveform from a ``log1p`` magnitude and a phase: ``ISTFT(expm1(logmag) * e^{i phase})``.

        Arguments
        ---------
        logmag : torch.Tensor
            ``log1p|X|`` (possibly masked), ``[B, T, F]``.
        phase : torch.Tensor
            Phase of the explained input, ``[B, T, F]``.
        length : int
            Number of samples of the output (the input length).

        Returns
        -------
        torch.Tensor
            Waveforms ``[B, length]``.

        Example
        -------
        >>> fe = Frontend()
        >>> wav = torch.randn(1, 12345)
        >>> print(fe.invert(*fe.log_magnitude_phase(wav), length=12345).shape)
        torch.Size([1, 12345])
        """
        self._check_freqs(logmag)
        # torch.polar then a real view: one complex buffer instead of cos, sin, two products and a stack
        # (a 10-minute input holds ~0.1 GB per [T, F] float tensor).
        spec = torch.view_as_real(torch.polar(torch.expm1(logmag), phase))
        return self.istft(spec, sig_length=length)

    def _check_freqs(self, spec: torch.Tensor) -> None:
        if spec.dim() != 3 or spec.shape[-1] != self.n_freqs:
            raise ValueError(f"Expected a spectrogram [B, T, F={self.n_freqs}], got shape {tuple(spec.shape)}.")
