"""SpeechBrain data pipelines over classification manifests (``ID,duration,wav,label[,target]`` CSV).

The same pipelines serve the classifier recipe and the L-MAC recipe: audio is read with
:func:`lmac_brain.data.audio.load_audio`; training items may be randomly cropped and mixed with real noise;
evaluation items are whole clips, optionally mixed with noise deterministically per item ID.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import csv
import logging
import os
import random
from typing import Dict, Mapping, Optional

import speechbrain as sb
import torch
from speechbrain.dataio.encoder import CategoricalEncoder

from lmac_brain.data.audio import load_audio, peak_normalize
from lmac_brain.data.manifests import check_audio_exists, read_table
from lmac_brain.data.noise import NoiseMixer

logger = logging.getLogger(__name__)


def label_encoder_from_manifest(manifest: str, save_path: str) -> CategoricalEncoder:
    """Load ``save_path`` if it exists, else build the label encoder from a manifest and save it.

    With a ``target`` column (ESC-50), classes are indexed in the order of their targets (on full
    ESC-50 the index is the dataset's own target, so index 0 is "dog"); without one, labels are
    indexed in sorted order.

    Arguments
    ---------
    manifest : str
        CSV with at least a ``label`` column (the training manifest).
    save_path : str
        Where the encoder is stored (``label_encoder.txt``).

    Returns
    -------
    CategoricalEncoder

    Example
    -------
    >>> from pathlib import Path
    >>> tmp = Path(getfixture("tmpdir"))
    >>> csv_path = tmp / "train.csv"
    >>> _ = csv_path.write_text("ID,label,target\\na,rain,1\\nb,dog,0\\n")
    >>> enc = label_encoder_from_manifest(str(csv_path), str(tmp / "label_encoder.txt"))
    >>> print(enc.decode_ndim([0, 1]))
    ['dog', 'rain']
    """
    encoder = CategoricalEncoder()
    if os.path.isfile(save_path):
        encoder.load(save_path)
        return encoder
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "label" not in rows[0]:
        raise ValueError(f"{manifest}: expected a CSV with a 'label' column and at least one row.")
    if "target" in rows[0]:
        pairs = sorted({(int(r["target"]), r["label"]) for r in rows})
        if len({i for i, _ in pairs}) != len(pairs) or len({lab for _, lab in pairs}) != len(pairs):
            raise ValueError(f"{manifest}: the 'target' and 'label' columns must map one-to-one.")
        labels = [lab for _, lab in pairs]
    else:
        labels = sorted({r["label"] for r in rows})
    encoder.update_from_iterable(labels)
    tmp = save_path + ".tmp"
    encoder.save(tmp)
    os.replace(tmp, save_path)
    return encoder


def check_manifest_audio(manifests: Mapping[str, str], max_listed: int = 10) -> None:
    """Check that every audio file named in the manifests exists, before any training starts.

    All manifests are read in full, so one error reports every missing file (the first ``max_listed``
    by name, with their manifest and item ID, and how many in total) instead of a crash at the first
    missing file some minutes into an epoch.

    Arguments
    ---------
    manifests : mapping
        Split name -> CSV manifest path (with ``ID`` and ``wav`` columns).
    max_listed : int
        How many missing files the message names.

    Raises
    ------
    FileNotFoundError
        If a manifest or any audio file it names is missing.
    ValueError
        If a manifest has no ``wav`` column.

    Example
    -------
    >>> from pathlib import Path
    >>> tmp = Path(getfixture("tmpdir"))
    >>> _ = (tmp / "train.csv").write_text("ID,duration,wav,label\\na,1.0,/no/such/a.wav,dog\\n")
    >>> check_manifest_audio({"train": str(tmp / "train.csv")})
    Traceback (most recent call last):
    ...
    lmac_brain.data.manifests.MissingAudioError: 1 of the 1 audio files named in the manifests are missing:
      /no/such/a.wav (ID a in .../train.csv)
    ...
    """
    named_by: Dict[str, str] = {}  # audio path -> "ID x in manifest" of its first mention
    for split, manifest in manifests.items():
        rows = read_table(
            manifest,
            ["wav"],
            f"the {split} manifest does not exist. Run the data preparation again or fix the manifest path.",
            "Expected the columns ID,duration,wav,label.",
        )
        for row in rows:
            named_by.setdefault(row["wav"], f"ID {row.get('ID', '?')} in {manifest}")
    check_audio_exists(
        list(named_by),
        "the manifests",
        "Restore the files (e.g. re-download the dataset) or fix the 'wav' column. Manifests written by "
        "prepare_esc50 live in the experiment folder; delete them to have them rebuilt from the data folder.",
        describe=lambda path: f"{path} ({named_by[path]})",
        max_listed=max_listed,
    )


def random_crop(wav: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Random window of ``n_samples`` from ``wav`` ``[N]``; shorter inputs are zero-padded at the end.

    Example
    -------
    >>> print(random_crop(torch.arange(10.0), 4).shape, random_crop(torch.ones(3), 5).tolist())
    torch.Size([4]) [1.0, 1.0, 1.0, 0.0, 0.0]
    """
    if wav.shape[0] <= n_samples:
        return torch.nn.functional.pad(wav, (0, n_samples - wav.shape[0]))
    start = random.randint(0, wav.shape[0] - n_samples)
    return wav[start : start + n_samples]


def classification_datasets(
    manifests: Mapping[str, str],
    label_encoder: CategoricalEncoder,
    sample_rate: int,
    train_crop_s: Optional[float] = None,
    train_noise: Optional[NoiseMixer] = None,
    train_noise_prob: float = 0.0,
    eval_noise: Optional[NoiseMixer] = None,
    with_clean: bool = False,
) -> Dict[str, sb.dataio.dataset.DynamicItemDataset]:
    """Build ``DynamicItemDataset`` objects with outputs ``id``, ``sig`` ``[N]`` and ``label_encoded``.

    With ``with_clean=True`` they also output ``clean`` ``[N]``: the clean clip as it appears in the
    noisy ``sig`` (equal to ``sig`` for items without noise), for the L-MAC FT stage.

    Arguments
    ---------
    manifests : mapping
        Split name (``train``, ``valid``, ``test``, ...) -> CSV manifest path. The split called
        ``train`` gets the training pipeline, every other split the evaluation pipeline.
    label_encoder : CategoricalEncoder
        Maps the ``label`` column to class indices.
    sample_rate : int
        Audio is resampled to this rate.
    train_crop_s : float, optional
        Training items are random crops of this many seconds (None: whole clips).
    train_noise : NoiseMixer, optional
        Mixes noise into training items with probability ``train_noise_prob``.
    train_noise_prob : float
        Probability of mixing noise into a training item.
    eval_noise : NoiseMixer, optional
        Mixes noise into every evaluation item (use ``deterministic=True`` to get the same mixture
        every epoch and run).
    with_clean : bool
        Also output ``clean``.

    Returns
    -------
    dict
        Split name -> dataset.

    Raises
    ------
    FileNotFoundError
        Before any audio is read, if a manifest names audio files that do not exist (all of them are
        counted; see :func:`check_manifest_audio`).

    Example
    -------
    >>> import numpy as np, soundfile as sf
    >>> from pathlib import Path
    >>> tmp = Path(getfixture("tmpdir"))
    >>> sf.write(str(tmp / "a.wav"), np.random.randn(16000) * 0.1, 16000)
    >>> _ = (tmp / "train.csv").write_text(f"ID,duration,wav,label\\na,1.0,{tmp / 'a.wav'},dog\\n")
    >>> enc = label_encoder_from_manifest(str(tmp / "train.csv"), str(tmp / "lab.txt"))
    >>> sets = classification_datasets({"train": str(tmp / "train.csv")}, enc, 16000, train_crop_s=0.5)
    >>> item = sets["train"][0]
    >>> print(item["id"], item["sig"].shape, int(item["label_encoded"]))
    a torch.Size([8000]) 0
    """
    check_manifest_audio(manifests)
    crop = None if train_crop_s is None else int(round(train_crop_s * sample_rate))

    def make_audio_pipeline(training: bool):
        @sb.utils.data_pipeline.takes("id", "wav")
        @sb.utils.data_pipeline.provides("sig", "clean")
        def audio_pipeline(item_id, path):
            wav = load_audio(path, sample_rate)
            mixer = eval_noise
            if training:
                if crop is not None:
                    wav = random_crop(wav, crop)
                use_noise = train_noise is not None and random.random() < train_noise_prob
                mixer = train_noise if use_noise else None
            if mixer is None:
                wav = peak_normalize(wav)
                yield wav
                yield wav
            else:
                mixture, clean = mixer.mix(wav, item_id)
                yield mixture
                yield clean

        return audio_pipeline

    @sb.utils.data_pipeline.takes("label")
    @sb.utils.data_pipeline.provides("label_encoded")
    def label_pipeline(label):
        return torch.LongTensor([label_encoder.encode_label(label)])

    datasets = {}
    for split, path in manifests.items():
        datasets[split] = sb.dataio.dataset.DynamicItemDataset.from_csv(
            csv_path=path,
            dynamic_items=[make_audio_pipeline(split == "train"), label_pipeline],
            output_keys=["id", "sig", "label_encoded"] + (["clean"] if with_clean else []),
        )
    return datasets
