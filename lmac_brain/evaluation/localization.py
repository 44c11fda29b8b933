"""Ground-truth localization benchmark: a known class event placed at a known time over real background.

Faithfulness metrics say whether a mask keeps what the classifier uses; they cannot say whether it finds
where the sound event *is*. Here we build mixtures where we know it: the most energetic ``event_s``
seconds of a test clip are placed at a seeded random time over ``clip_s`` seconds of real background
noise (event-to-background ratio ``snr_db`` over the event span). Each item is explained for the
event's class (with ``targets``), as in the pointing game of Zhang et al. (ECCV 2016), where the map of
the ground-truth class is scored, not the map of whatever the model decided: at 0 dB over 5 s of real
noise the classifier often decides on the background, and an explanation of that decision need not
point at the event. A mask is then scored by

* **time IoU**: frames whose mask energy (mean over frequency, divided by its maximum) is at least
  ``threshold``, against the frames of the event span;
* **pointing game**: whether the frame of maximal mask energy lies inside the span;
* **SI-SDR** of the listenable explanation against the event alone (same scale, same length).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import torch

from lmac_brain.data.audio import load_audio
from lmac_brain.data.mixing import keyed_generator, loudest_segment, place_event, random_crop_tiled
from lmac_brain.explain.budget_masks import rank_bins


def span_frames(start: int, end: int, hop_length: int, n_frames: int) -> Tuple[int, int]:
    """STFT frames ``[first, last)`` whose centres (centred STFT: frame ``t`` at ``t * hop``) fall in
    the sample span ``[start, end)``.

    Example
    -------
    >>> span_frames(186, 558, 186, 10)
    (1, 3)
    """
    first = -(-start // hop_length)  # ceil
    last = min(n_frames, -(-end // hop_length))
    return first, last


def time_profile(mask: torch.Tensor) -> torch.Tensor:
    """Mask energy per frame, divided by its maximum: ``[B, T, F]`` -> ``[B, T]`` in ``[0, 1]``.

    Example
    -------
    >>> time_profile(torch.tensor([[[0.2, 0.2], [1.0, 0.6]]])).tolist()
    [[0.25, 1.0]]
    """
    profile = mask.mean(dim=2)
    return profile / profile.amax(dim=1, keepdim=True).clamp(min=torch.finfo(mask.dtype).tiny)


def time_iou(mask: torch.Tensor, spans: Sequence[Tuple[int, int]], threshold: float = 0.5) -> torch.Tensor:
    """IoU between the frames where :func:`time_profile` ``>= threshold`` and each span, ``[B]``.

    Example
    -------
    >>> m = torch.zeros(1, 6, 4); m[0, 2:4] = 1.0
    >>> time_iou(m, [(2, 5)]).tolist()
    [0.6666666865348816]
    """
    active = time_profile(mask) >= threshold
    truth = torch.zeros_like(active)
    for b, (first, last) in enumerate(spans):
        truth[b, first:last] = True
    inter = (active & truth).sum(dim=1).float()
    union = (active | truth).sum(dim=1).float().clamp(min=1)
    return inter / union


def matched_time_iou(mask: torch.Tensor, spans: Sequence[Tuple[int, int]], seed: int = 0) -> torch.Tensor:
    """IoU with each span of the frames that cover the event's length, ``[B]``: no threshold to tune.

    The ``last - first`` frames of highest :func:`time_profile` (ties in a seeded random order, as in
    :func:`lmac_brain.explain.budget_masks.rank_bins`) are compared with the span: a method is scored at the event's
    own duration, so a mask that keeps everything cannot reach 1.

    Example
    -------
    >>> m = torch.zeros(1, 6, 4); m[0, 2:4] = 1.0; m[0, 4] = 0.5
    >>> matched_time_iou(m, [(2, 5)]).tolist()  # top 3 frames: 2, 3 (1.0) and 4 (0.5)
    [1.0]
    """
    order = rank_bins(time_profile(mask).unsqueeze(-1), seed)
    out = []
    for b, (first, last) in enumerate(spans):
        chosen = set(order[b, : max(last - first, 0)].tolist())
        truth = set(range(first, last))
        out.append(len(chosen & truth) / max(len(chosen | truth), 1))
    return torch.tensor(out)


def pointing_game(mask: torch.Tensor, spans: Sequence[Tuple[int, int]]) -> torch.Tensor:
    """1 where the frame of maximal mask energy lies in the span, else 0, ``[B]``.

    Example
    -------
    >>> m = torch.zeros(2, 6, 4); m[0, 3] = 1.0; m[1, 0] = 1.0
    >>> pointing_game(m, [(2, 5), (2, 5)]).tolist()
    [1.0, 0.0]
    """
    peak = time_profile(mask).argmax(dim=1)
    return torch.tensor([float(first <= int(p) < last) for p, (first, last) in zip(peak, spans)])


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SDR in dB of ``[B, N]`` estimates against references, ``[B]``.

    Example
    -------
    >>> ref = torch.sin(torch.arange(1000.0) / 7).view(1, -1)
    >>> print(bool(si_sdr(0.5 * ref, ref) > 60), bool(si_sdr(ref + torch.randn(1, 1000), ref) < 5))
    True True
    """
    estimate = estimate - estimate.mean(dim=1, keepdim=True)
    reference = reference - reference.mean(dim=1, keepdim=True)
    scale = (estimate * reference).sum(dim=1, keepdim=True) / (reference.pow(2).sum(dim=1, keepdim=True) + eps)
    target = scale * reference
    noise = estimate - target
    return 10 * torch.log10((target.pow(2).sum(dim=1) + eps) / (noise.pow(2).sum(dim=1) + eps))


class LocalizationSet(torch.utils.data.Dataset):
    """Mixtures with a known event span, seeded per clip.

    Arguments
    ---------
    clips : sequence of (str, str)
        ``(clip id, path)`` of the event clips (e.g. ESC-50 fold 5).
    backgrounds : sequence of str
        Real background recordings.
    sample_rate : int
        Sample rate.
    clip_s, event_s : float
        Length of the mixture and of the placed event, in seconds.
    snr_db : float
        Event-to-background energy ratio over the event span.
    seed : int
        Seed of the background choice, its crop and the event position.
    targets : sequence of int, optional
        The classifier's index of each clip's class (:func:`~lmac_brain.evaluation.evalsets.esc50_clip_classes`):
        the class an explanation of the item must localize.

    Items are ``(item_id, mixture [N], event_track [N], (start, end), target)``: ``event_track`` is the
    event alone at the scale it has in the (peak-normalised) mixture; the span is in samples; ``target``
    is the event's class index (None without ``targets``).

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> tmp = getfixture("tmpdir")
    >>> sf.write(str(tmp / "e.wav"), np.sin(np.arange(16000) / 3.0), 16000)
    >>> sf.write(str(tmp / "bg.wav"), np.random.default_rng(0).standard_normal(32000) * 0.1, 16000)
    >>> ds = LocalizationSet([("e", str(tmp / "e.wav"))], [str(tmp / "bg.wav")], 16000, clip_s=2.0, event_s=0.5)
    >>> item_id, mix, event, (start, end), target = ds[0]
    >>> print(item_id, mix.shape, end - start, bool(event[:start].abs().max() == 0))
    e_loc torch.Size([32000]) 8000 True
    """

    def __init__(
        self,
        clips: Sequence[Tuple[str, str]],
        backgrounds: Sequence[str],
        sample_rate: int,
        clip_s: float = 5.0,
        event_s: float = 1.0,
        snr_db: float = 0.0,
        seed: int = 1234,
        targets: Optional[Sequence[int]] = None,
    ):
        if event_s >= clip_s:
            raise ValueError(f"event_s ({event_s}) must be shorter than clip_s ({clip_s}).")
        if not backgrounds:
            raise ValueError("LocalizationSet needs at least one background recording.")
        if targets is not None and len(targets) != len(clips):
            raise ValueError(
                f"LocalizationSet: {len(targets)} targets for {len(clips)} clips; give one class per clip."
            )
        self.clips, self.backgrounds = list(clips), list(backgrounds)
        self.targets = None if targets is None else [int(t) for t in targets]
        self.sample_rate, self.seed, self.snr_db = sample_rate, seed, snr_db
        self.n_clip, self.n_event = int(clip_s * sample_rate), int(event_s * sample_rate)
        self._bg: Dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int):
        clip_id, path = self.clips[index]
        gen = keyed_generator(f"{self.seed}:{clip_id}:loc")
        event = loudest_segment(load_audio(path, self.sample_rate), self.n_event)
        bg_path = self.backgrounds[int(torch.randint(len(self.backgrounds), (1,), generator=gen))]
        if bg_path not in self._bg:
            self._bg[bg_path] = load_audio(bg_path, self.sample_rate, normalize=False)
        background = random_crop_tiled(self._bg[bg_path], self.n_clip, gen)
        start = int(torch.randint(self.n_clip - self.n_event + 1, (1,), generator=gen))
        end = start + self.n_event
        mixture, track = place_event(event, background, start, self.snr_db)
        scale = 1.0 / mixture.abs().max().clamp(min=torch.finfo(event.dtype).tiny)
        target = None if self.targets is None else self.targets[index]
        return f"{clip_id}_loc", mixture * scale, track * scale, (start, end), target
