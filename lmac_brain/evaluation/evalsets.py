"""Seeded evaluation sets: test clips contaminated in-domain and out-of-domain (REFERENCE §6), and the
test split of a manifest as its recipe tests it (:class:`ManifestSet`).

Each test clip ``s`` is contaminated ``n_per_clip`` times (two in the paper) with a contaminant ``n``,
then peak-normalised (:func:`~lmac_brain.data.mixing.mix_weighted`):

==============  ==================================  ===========================================
condition       mixture                             contaminant
==============  ==================================  ===========================================
``in_domain``   ``s/||s|| + n/||n||`` (0 dB)        real background noise (a folder)
``mixtures``    ``0.8 s/||s|| + 0.2 n/||n||``       another ESC-50 clip from a different fold
``speech``      ``0.8 s/||s|| + 0.2 n/||n||``       real speech (a folder)
``white_noise`` ``s/||s|| + 0.5 n/||n||``           Gaussian white noise
==============  ==================================  ===========================================

The contaminant file, its crop and the white noise depend only on ``(seed, clip id, k)`` through
``zlib.crc32`` (not Python's salted ``hash``): two runs with the same seed give bit-identical sets.
Unlike the reference (unseeded noise, evaluation on the validation fold), every set is reproducible
and is built from the held-out test fold by default.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from lmac_brain.data.audio import load_audio
from lmac_brain.data.dataio import check_manifest_audio
from lmac_brain.data.files import list_audio_files
from lmac_brain.data.manifests import read_table
from lmac_brain.data.mixing import keyed_generator, mix_weighted, random_crop_tiled
from lmac_brain.data.noise import NoiseMixer

#: condition -> (weight of the clip, weight of the contaminant)
CONDITIONS: Dict[str, Tuple[float, float]] = {
    "in_domain": (1.0, 1.0),
    "mixtures": (0.8, 0.2),
    "speech": (0.8, 0.2),
    "white_noise": (1.0, 0.5),
}


def item_generator(seed: int, clip_id: str, k: int) -> torch.Generator:
    """Generator seeded from ``(seed, clip_id, k)`` only (stable across processes and machines).

    Example
    -------
    >>> a = torch.rand(1, generator=item_generator(0, "5-1-A-0", 1))
    >>> bool(a == torch.rand(1, generator=item_generator(0, "5-1-A-0", 1)))
    True
    """
    return keyed_generator(f"{seed}:{clip_id}:{k}")


class EvaluationSet(torch.utils.data.Dataset):
    """Contaminated versions of test clips for one condition.

    Arguments
    ---------
    clips : sequence of (str, str)
        ``(clip id, audio path)`` of the clips to contaminate (e.g. ESC-50 fold 5).
    condition : str
        One of :data:`CONDITIONS`.
    sample_rate : int
        Sample rate of the returned audio.
    contaminants : sequence of str, optional
        Contaminant audio files (noise for ``in_domain``, clips of other folds for ``mixtures``, speech
        for ``speech``); not used for ``white_noise``.
    n_per_clip : int
        Contaminated versions of each clip.
    seed : int
        Seed of every random choice.
    clean_cache : dict, optional
        Decoded clean clips by path, shared by the sets of one fold (:func:`esc50_evaluation_sets`) so
        that a clip is decoded once for all conditions and every pass over them; it holds at most the
        set's clips (about 128 MB for the 400 five-second clips of an ESC-50 fold). None: a cache of this
        set's own.

    Items are ``(item_id, mixture [N], clean [N])`` with ``item_id = "<clip id>_<condition><k>"``; the
    clean clip is the one in the mixture, peak-normalised on its own.

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> tmp = getfixture("tmpdir")
    >>> sf.write(str(tmp / "clip.wav"), np.sin(np.arange(8000) / 5.0), 16000)
    >>> ds = EvaluationSet([("clip", str(tmp / "clip.wav"))], "white_noise", 16000)
    >>> item_id, mix, clean = ds[1]
    >>> print(len(ds), item_id, mix.shape, float(mix.abs().max()))
    2 clip_white_noise1 torch.Size([8000]) 1.0
    """

    def __init__(
        self,
        clips: Sequence[Tuple[str, str]],
        condition: str,
        sample_rate: int,
        contaminants: Optional[Sequence[str]] = None,
        n_per_clip: int = 2,
        seed: int = 1234,
        clean_cache: Optional[Dict[str, torch.Tensor]] = None,
    ):
        if condition not in CONDITIONS:
            raise ValueError(f"Unknown condition {condition!r}; choose one of {list(CONDITIONS)}.")
        if condition != "white_noise" and not contaminants:
            raise ValueError(f"Condition {condition!r} needs contaminant files (got none).")
        self.clips = list(clips)
        self.condition = condition
        self.sample_rate = sample_rate
        self.contaminants = list(contaminants or [])
        self.n_per_clip = n_per_clip
        self.seed = seed
        self._cache: Dict[str, torch.Tensor] = {}
        self._clean = {} if clean_cache is None else clean_cache

    def __len__(self) -> int:
        return len(self.clips) * self.n_per_clip

    def _contaminant(self, path: str) -> torch.Tensor:
        if path not in self._cache:
            if len(self._cache) > 64:  # bounded: ESC-50 mixtures draw from 1600 clips
                self._cache.clear()
            self._cache[path] = load_audio(path, self.sample_rate, normalize=False)
        return self._cache[path]

    def __getitem__(self, index: int) -> Tuple[str, torch.Tensor, torch.Tensor]:
        clip_id, path = self.clips[index // self.n_per_clip]
        k = index % self.n_per_clip
        if path not in self._clean:
            self._clean[path] = load_audio(path, self.sample_rate)
        clean = self._clean[path].clone()  # the caller may change its copy
        gen = item_generator(self.seed, clip_id, k)
        if self.condition == "white_noise":
            noise = torch.randn(clean.numel(), generator=gen)
        else:
            choice = self.contaminants[int(torch.randint(len(self.contaminants), (1,), generator=gen))]
            noise = random_crop_tiled(self._contaminant(choice), clean.numel(), gen)
        return f"{clip_id}_{self.condition}{k}", mix_weighted(clean, noise, *CONDITIONS[self.condition]), clean


class ManifestSet(torch.utils.data.Dataset):
    """The clips of a manifest (``ID,wav`` CSV, e.g. a recipe's ``test.csv``) as the recipe tests them.

    Each clip is read whole and peak-normalised; with a ``noise_folder`` it is mixed with real noise at
    ``snr_db`` exactly as the L-MAC recipes mix their validation and test clips (a deterministic
    :class:`~lmac_brain.data.noise.NoiseMixer` with the same ``seed``: the same mixture of an item as in
    the run's test). Items are ``(ID, input [N], clean [N])``, the clean clip scaled like the input (equal
    to it without noise), in the manifest's order; clips keep their own lengths.

    Arguments
    ---------
    manifest : str
        CSV with ``ID`` and ``wav`` columns; every file it names must exist (all missing ones are named).
    sample_rate : int
        Sample rate of the returned audio.
    noise_folder : str, optional
        Folder of real noise (None: clean clips).
    snr_db : float
        SNR of the noise, in dB.
    seed : int
        Seed of the noise choices (the recipe's ``seed``).

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> tmp = getfixture("tmpdir")
    >>> sf.write(str(tmp / "a.wav"), 0.25 * np.sin(np.arange(8000) / 5.0), 16000)
    >>> _ = (tmp / "test.csv").write(f"ID,duration,wav,label\\nhum__a,0.5,{tmp / 'a.wav'},hum\\n")
    >>> ds = ManifestSet(str(tmp / "test.csv"), 16000)
    >>> item_id, wav, clean = ds[0]
    >>> print(len(ds), item_id, wav.shape, round(float(wav.abs().max()), 3), ds.condition)
    1 hum__a torch.Size([8000]) 1.0 clean clips
    """

    def __init__(
        self,
        manifest: str,
        sample_rate: int,
        noise_folder: Optional[str] = None,
        snr_db: float = 0.0,
        seed: int = 1234,
    ):
        rows = read_table(manifest, ["ID", "wav"], "the manifest does not exist.", "Expected ID,wav columns.")
        check_manifest_audio({"test": manifest})
        self.clips: List[Tuple[str, str]] = [(r["ID"], r["wav"]) for r in rows]
        self.sample_rate = sample_rate
        self.noise = None
        self.condition = "clean clips"
        if noise_folder:
            self.noise = NoiseMixer(noise_folder, sample_rate, snr_db, seed=seed, deterministic=True)
            self.condition = f"noise at {snr_db} dB from {noise_folder}"

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Tuple[str, torch.Tensor, torch.Tensor]:
        clip_id, path = self.clips[index]
        wav = load_audio(path, self.sample_rate)  # peak-normalised, as in the recipes' pipelines
        if self.noise is None:
            return clip_id, wav, wav.clone()
        mixture, clean = self.noise.mix(wav, clip_id)
        return clip_id, mixture, clean


def esc50_evaluation_sets(
    data_folder: str,
    sample_rate: int,
    noise_folder: str,
    speech_folder: str,
    test_fold: int = 5,
    n_per_clip: int = 2,
    seed: int = 1234,
    max_clips: Optional[int] = None,
) -> Dict[str, EvaluationSet]:
    """The four evaluation sets of an ESC-50 fold: in-domain noise, ESC-50 mixtures, speech, white noise.

    Arguments
    ---------
    data_folder : str
        ESC-50 folder (``meta/esc50.csv``, ``audio/``).
    sample_rate : int
        Sample rate of the returned audio.
    noise_folder, speech_folder : str
        Folders of real background noise and of real speech.
    test_fold : int
        Fold whose clips are contaminated (default 5, held out from training and selection); mixture
        contaminants come from the other folds.
    n_per_clip : int
        Contaminations per clip.
    seed : int
        Seed of every choice.
    max_clips : int, optional
        Use a class-balanced subset of the fold for a documented, cheaper run: clips are taken round-robin
        over the classes (the first clip of every class by file name, then the second, ...), so 50
        clips cover all 50 ESC-50 classes once.

    Returns
    -------
    dict
        Condition -> :class:`EvaluationSet`.
    """
    from lmac_brain.data.esc50 import read_esc50_meta

    rows = sorted(read_esc50_meta(data_folder), key=lambda r: r["filename"])
    path = lambda r: os.path.join(data_folder, "audio", r["filename"])  # noqa: E731
    fold_rows = [r for r in rows if r["fold"] == test_fold]
    if not fold_rows:
        raise ValueError(f"{data_folder}: fold {test_fold} has no clips; choose a fold present in meta/esc50.csv.")
    if max_clips:
        fold_rows = sorted(class_balanced(fold_rows, max_clips), key=lambda r: r["filename"])
    clips = [(os.path.splitext(r["filename"])[0], path(r)) for r in fold_rows]
    others = [path(r) for r in rows if r["fold"] != test_fold]
    sources = {
        "in_domain": list_audio_files(noise_folder, kind="noise"),
        "mixtures": others,
        "speech": list_audio_files(speech_folder, kind="speech"),
        "white_noise": None,
    }
    clean: Dict[str, torch.Tensor] = {}  # every clip decoded once for the four sets
    return {
        cond: EvaluationSet(
            clips, cond, sample_rate, sources[cond], n_per_clip=n_per_clip, seed=seed, clean_cache=clean
        )
        for cond in CONDITIONS
    }


def class_balanced(rows: Sequence[Dict], n: int) -> List[Dict]:
    """The first ``n`` of ``rows`` (ESC-50 meta rows) taken round-robin over the classes: the first row of every
    class (in the given order), then the second, ...; classes in ``target`` order.

    Example
    -------
    >>> rows = [{"target": t, "filename": name} for t, name in zip((1, 0, 1, 0, 1), "abcde")]
    >>> [r["filename"] for r in class_balanced(rows, 4)]
    ['b', 'a', 'd', 'c']
    """
    per_class: Dict[int, int] = {}
    ranked = []  # (rank of the row within its class, class, order, row)
    for order, r in enumerate(rows):
        per_class[r["target"]] = per_class.get(r["target"], 0) + 1
        ranked.append((per_class[r["target"]], r["target"], order, r))
    ranked.sort(key=lambda x: x[:3])
    return [r for *_, r in ranked[:n]]


def esc50_clip_classes(data_folder: str, clip_ids: Sequence[str], label_file) -> List[int]:
    """The classifier's index of each clip's ESC-50 category: ``meta/esc50.csv`` names the category of
    ``<clip id>.wav``, the classifier's ``label_encoder.txt`` (``label_file``; or its class names in index
    order, a list) its index.

    Raises
    ------
    ValueError
        If a clip is not in the meta file or its category is not one of the classifier's labels.

    Example
    -------
    >>> tmp = getfixture("tmpdir")
    >>> _ = tmp.mkdir("meta").join("esc50.csv").write(
    ...     "filename,fold,target,category\\n5-1-A-0.wav,5,0,dog\\n5-2-A-14.wav,5,14,chirping_birds\\n")
    >>> _ = tmp.join("labels.txt").write(
    ...     "'chirping_birds' => 0\\n'dog' => 1\\n================\\n'starting_index' => 0\\n")
    >>> esc50_clip_classes(str(tmp), ["5-1-A-0", "5-2-A-14"], str(tmp / "labels.txt"))
    [1, 0]
    >>> esc50_clip_classes(str(tmp), ["5-1-A-0", "5-2-A-14"], ["dog", "chirping_birds"])
    [0, 1]
    """
    from speechbrain.dataio.encoder import CategoricalEncoder

    from lmac_brain.data.esc50 import read_esc50_meta

    category = {os.path.splitext(r["filename"])[0]: r["category"] for r in read_esc50_meta(data_folder)}
    encoder = CategoricalEncoder()
    if isinstance(label_file, str):
        encoder.load(label_file)
    else:
        encoder.update_from_iterable(label_file)
        label_file = "the classifier's label encoder"
    out = []
    for clip_id in clip_ids:
        if clip_id not in category:
            raise ValueError(f"{data_folder}/meta/esc50.csv has no clip {clip_id!r}.")
        if category[clip_id] not in encoder.lab2ind:
            raise ValueError(
                f"{label_file}: the classifier has no class {category[clip_id]!r} (clip {clip_id}); the localization "
                "set explains each event's ESC-50 class, so the classifier must be trained on ESC-50's categories."
            )
        out.append(int(encoder.lab2ind[category[clip_id]]))
    return out
