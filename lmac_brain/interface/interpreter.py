"""``LMACInterpreter``: a SpeechBrain ``Pretrained`` interface that explains audio with L-MAC.

Load a folder written by :func:`~lmac_brain.interface.export.export_interpreter` (or the same files on a model
hub) with ``LMACInterpreter.from_hparams(source=...)`` and call :meth:`LMACInterpreter.interpret_file`
or :meth:`LMACInterpreter.interpret_batch`. Both apply the input normalisation the classifier was
trained with (``input_normalization`` in ``hyperparams.yaml``; peak normalisation where the key is
absent, as in the recipes), so the same audio gets the same decision and mask at any input level.

``savedir`` and the files in it: without a ``savedir`` (the default) nothing is written: a local
folder is read in place and hub files stay in the Hugging Face cache. With a ``savedir``, SpeechBrain
links ``hyperparams.yaml`` and one ``<name>.ckpt`` per loaded file into it. The library never deletes
or replaces a file it did not create there: it records the names it links in ``.lmac_brain_savedir.json``
and refuses (:class:`~lmac_brain.interface.savedir.SavedirError`) when a file of a needed name exists that it
did not create.
Stale caches: SpeechBrain keeps a file that already exists in ``savedir``, so loading a *different*
source into a ``savedir`` used before would silently reuse the old ``hyperparams.yaml``; here the
library's own links are re-made on every load (``FetchConfig(overwrite=True)``), so they always point
at the source being loaded.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import List, Optional, Sequence, Union

import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.inference.interfaces import Pretrained
from speechbrain.utils.fetching import FetchConfig, LocalStrategy, fetch

from lmac_brain.data.audio import INPUT_NORMALIZATIONS, load_audio, normalize_input
from lmac_brain.explain.budget_masks import keep_top
from lmac_brain.explain.listen import listenable
from lmac_brain.explain.longform import Segment, explain_long, long_spectrogram_and_audio
from lmac_brain.explain.refine import Refinement, targeted_masks
from lmac_brain.explain.targets import ClassRef, class_index, class_indices
from lmac_brain.interface.folder_checks import check_interpreter_folder, check_state_dict_fits
from lmac_brain.interface.interpretation import Interpretation
from lmac_brain.interface.savedir import claim_savedir
from lmac_brain.models.sources import check_source

logger = logging.getLogger(__name__)

#: Input normalisation of interpreter folders exported before ``input_normalization`` was stored:
#: peak normalisation, what the recipes (and so the shipped model) were trained with.
DEFAULT_INPUT_NORMALIZATION = "peak"


class LMACInterpreter(Pretrained):
    """Explain an audio classifier's decisions with a trained L-MAC decoder.

    Example
    -------
    >>> folder = getfixture("tiny_interpreter_folder")  # written by export_interpreter (classes dog, rain)
    >>> interp = LMACInterpreter.from_hparams(source=folder)
    >>> out = interp.interpret_batch(torch.randn(2, 16000))
    >>> print(out.mask.shape, out.interpretation.shape, out.labels[0] in ("dog", "rain"))
    torch.Size([2, 87, 513]) torch.Size([2, 16000]) True
    """

    MODULES_NEEDED = ["lmac"]
    HPARAMS_NEEDED = ["label_encoder", "sample_rate"]

    @classmethod
    def from_hparams(
        cls,
        source: Union[str, "os.PathLike[str]"],
        hparams_file: str = "hyperparams.yaml",
        savedir: Union[None, str, "os.PathLike[str]"] = None,
        overrides: Optional[dict] = None,
        local_strategy: LocalStrategy = LocalStrategy.SYMLINK,
        fetch_config: Optional[FetchConfig] = None,
        **kwargs,
    ) -> "LMACInterpreter":
        """Load an interpreter from a local folder or a hub id (SpeechBrain's fetching and ``Pretrainer``).

        Arguments
        ---------
        source : str or os.PathLike
            A folder written by :func:`~lmac_brain.interface.export.export_interpreter`, or a hub id (``owner/name``;
            the rule is :func:`~lmac_brain.models.sources.is_hub_id`). A local path must exist, and the folder
            is checked first (:func:`~lmac_brain.interface.folder_checks.check_interpreter_folder`).
        hparams_file : str
            Name of the hyperparameter file in ``source``.
        savedir : str or os.PathLike, optional
            Folder to link the fetched files into (see the module docstring). None (default): nothing is
            written; a local folder is read in place, hub files are read from the Hugging Face cache.
            Files in ``savedir`` that the library did not create are never replaced or deleted: if one has
            a name the interpreter needs, :class:`SavedirError` is raised and nothing is changed.
        overrides : dict, optional
            Overrides of ``hyperparams.yaml`` entries.
        local_strategy : LocalStrategy
            How files are put into ``savedir`` (SpeechBrain's; default symbolic links).
        fetch_config : FetchConfig, optional
            SpeechBrain's fetch options (token, revision, cache); the library's links in ``savedir`` are
            always re-made (``overwrite=True``) so that they point at ``source``.
        **kwargs
            Passed to the constructor (e.g. ``run_opts={"device": "cuda"}``).

        Returns
        -------
        LMACInterpreter

        Raises
        ------
        SourceNotFoundError
            ``source`` is a local path (not a hub id) that does not exist: a clear error before any fetch.
        ModelFolderError
            A file of the folder is missing or damaged, or a checkpoint does not fit the model that
            ``hyperparams.yaml`` builds (names the file and the shapes).
        SavedirError
            ``savedir`` holds a file of a needed name that the library did not create.
        """
        source = check_source(source, "interpreter folder")  # a mistyped path stops here, not in huggingface_hub
        check_interpreter_folder(source, hparams_file)
        local = os.path.isdir(source)
        if local:
            source = os.path.abspath(source)
        if savedir is not None:
            savedir = os.path.abspath(os.fspath(savedir))
            if local and os.path.isdir(savedir) and os.path.samefile(savedir, source):
                savedir = None  # the files are already there
        overrides = dict(overrides or {})
        overrides.setdefault("pretrained_path", source)
        relink = dataclasses.replace(fetch_config or FetchConfig(), overwrite=True)
        # Read hyperparams.yaml where it is (nothing written yet), to learn which files will be linked.
        with open(fetch(hparams_file, source, savedir=None, fetch_config=relink), encoding="utf-8") as f:
            hparams = load_hyperpyyaml(f, overrides)
        pretrainer = hparams["pretrainer"]
        loadables = [name for name in pretrainer.loadables if pretrainer.is_loadable(name)]
        origins = {name: str(pretrainer.paths.get(name, f"{source}/{name}.ckpt")) for name in loadables}
        if savedir is not None:
            claim_savedir(savedir, source, [hparams_file] + [f"{name}.ckpt" for name in loadables])
            fetch(hparams_file, source, savedir=savedir, local_strategy=local_strategy, fetch_config=relink)
        hparams["savedir"] = savedir
        pretrainer.set_collect_in(savedir)
        collected = pretrainer.collect_files(default_source=source, local_strategy=local_strategy, fetch_config=relink)
        for name in loadables:
            if isinstance(pretrainer.loadables[name], torch.nn.Module):
                check_state_dict_fits(pretrainer.loadables[name], collected[name], origins[name])
        pretrainer.load_collected()
        return cls(modules=hparams["modules"], hparams=hparams, **kwargs)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.input_normalization = getattr(self.hparams, "input_normalization", DEFAULT_INPUT_NORMALIZATION)
        if self.input_normalization not in INPUT_NORMALIZATIONS:
            raise ValueError(
                f"{getattr(self.hparams, 'pretrained_path', '.')}/hyperparams.yaml sets input_normalization: "
                f"{self.input_normalization!r}; use one of "
                f"{', '.join(INPUT_NORMALIZATIONS)} (the normalisation the classifier was trained with)."
            )
        lmac = self.mods.lmac
        with torch.no_grad():  # one forward of silence gives the classifier's number of classes
            n_classes = lmac.classify(
                lmac.analyse(torch.zeros(1, lmac.frontend.hop_length * 40, device=self.device))[0]
            )[0].shape[1]
        if len(self.hparams.label_encoder) != n_classes:
            raise ValueError(
                f"The label encoder lists {len(self.hparams.label_encoder)} classes but the classifier outputs "
                f"{n_classes}: label_encoder.txt and the checkpoints come from different models."
            )
        self.hparams.label_encoder.expect_len(n_classes)

    def normalize(self, wavs: torch.Tensor) -> torch.Tensor:
        """The waveforms ``[B, N]`` (or ``[N]``) as the classifier hears them: its input normalisation applied.

        ``input_normalization`` of ``hyperparams.yaml`` (``"peak"`` where absent, as in the recipes);
        :meth:`interpret_batch` and :meth:`interpret_file` call this, so an input's level does not change
        its explanation.

        Example
        -------
        >>> interp = getfixture("tiny_interpreter")
        >>> interp.input_normalization
        'peak'
        >>> interp.normalize(torch.tensor([[0.1, -0.2], [0.0, 0.0]]))
        tensor([[ 0.5000, -1.0000],
                [ 0.0000,  0.0000]])
        """
        return normalize_input(wavs, self.input_normalization)

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
        return class_index(target, self.class_names)

    @property
    def class_names(self) -> List[str]:
        """The classifier's classes, in index order."""
        encoder = self.hparams.label_encoder
        return [encoder.decode_ndim(i) for i in range(len(encoder))]

    def _explain_windows(self, wavs: torch.Tensor, target: Optional[torch.Tensor], refinement: Refinement, refine=None):
        out = targeted_masks(self.mods.lmac, wavs, target, refinement, refine)
        return out["mask"], out["logits"].softmax(dim=-1), out["refined"]

    def _explain(self, wavs, target, window, refinement, refine=None):
        """Masks ``[B, T, F]``, probabilities ``[B, C]``, refined ``[B]`` and segments of a batch."""
        rate, hop = self.hparams.sample_rate, self.mods.lmac.frontend.hop_length
        n = wavs.shape[1]
        names = self.hparams.label_encoder
        if n <= window:
            mask, probs, refined = self._explain_windows(wavs, target, refinement, refine)
            segments = [[Segment(0.0, n / rate, names.decode_ndim(int(p.argmax())), float(p.max()))] for p in probs]
            return mask, probs, refined, segments
        masks, probs, refined, segments = [], [], [], []
        for i, wav in enumerate(wavs):
            flags = []

            def windows(batch, i=i, flags=flags):
                t = None if target is None else target[i].expand(batch.shape[0])
                mask, p, r = self._explain_windows(batch, t, refinement, refine)
                flags.append(r)
                return mask, p

            out = explain_long(windows, wav, window, hop)
            masks.append(out["mask"])
            probs.append(out["probs"])
            refined.append(torch.cat(flags).any())
            segments.append(
                [
                    Segment(int(s) / rate, (int(s) + window) / rate, names.decode_ndim(int(p.argmax())), float(p.max()))
                    for s, p in zip(out["starts"], out["window_probs"])
                ]
            )
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
        budget: Optional[float] = None,
        refine: Optional[bool] = None,
    ) -> Union[Interpretation, List[Interpretation]]:
        """Explain the classifier on a batch of waveforms ``[B, N]`` at ``sample_rate``.

        Each waveform first gets the input normalisation the classifier was trained with
        (:meth:`normalize`; peak normalisation for the recipes' models), exactly as in
        :meth:`interpret_file`: the same audio gives the same decision and mask at any input level.

        Arguments
        ---------
        wavs : torch.Tensor
            ``[B, N]`` waveforms, at any level (as recorded or already normalised).
        wav_lens : torch.Tensor, optional
            Relative lengths, accepted for SpeechBrain compatibility; items shorter than the batch are
            explained with their zero padding.
        target : int, str or sequence of them, optional
            Class to explain (name or index; one for the batch or one per item) instead of the
            decision: "why class B?". A class-conditional decoder answers in its one pass; with the
            paper's decoder, masks for classes other than the decision are refined on the L-MAC
            objective (:mod:`lmac_brain.explain.refine`).
        top_k : int, optional
            Explain each item's ``k`` most probable classes; returns a list of ``k`` interpretations,
            best first (the first one is the plain L-MAC explanation of the decision). A conditional
            decoder explains all ``k`` with one classifier pass and one batched decoder pass.
        window_s : float
            Inputs longer than this are explained in half-overlapping windows of this length whose
            masks are overlap-added (:mod:`lmac_brain.explain.longform`); shorter ones whole.
        refinement : Refinement, optional
            Settings of the targeted refinement (default :class:`~lmac_brain.explain.refine.Refinement`).
        budget : float, optional
            Binarise each mask to the top ``budget`` share of its time-frequency bins (e.g. 0.1: "the
            10% that matters most"; ties in a fixed seeded order), and make the audio of that binary
            mask. Default: the soft mask.
        refine : bool, optional
            Refine the masks of classes other than the decision on the L-MAC objective. None
            (default): only with the paper's (unconditional) decoder, which cannot explain them by
            itself; True with a conditional decoder starts the refinement from its mask.

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
        if budget is not None and not 0.0 < budget <= 1.0:
            raise ValueError(f"budget={budget} out of range: give the share of time-frequency bins to keep, in (0, 1].")
        wavs = self.normalize(wavs.to(self.device))
        if top_k is None:
            return self._interpretation(
                wavs, class_indices(target, self.class_names, wavs.shape[0]), window, refinement, budget, refine
            )
        n_classes = len(self.hparams.label_encoder)
        if not 1 <= top_k <= n_classes:
            raise ValueError(f"top_k={top_k} out of range: the classifier has {n_classes} classes.")
        if lmac.conditional and not refine and wavs.shape[1] <= window:  # one pass for all k classes
            out = lmac.masks_for_classes(wavs, lambda logits: logits.topk(top_k, dim=-1).indices)
            probs, rate = out["logits"].softmax(dim=-1), self.hparams.sample_rate
            segments = [
                [
                    Segment(
                        0.0,
                        wavs.shape[1] / rate,
                        self.hparams.label_encoder.decode_ndim(int(p.argmax())),
                        float(p.max()),
                    )
                ]
                for p in probs
            ]
            unrefined = torch.zeros(wavs.shape[0], dtype=torch.bool)
            return [
                self._interpretation_of(
                    wavs,
                    out["classes"][:, r] if r else None,
                    window,
                    budget,
                    (out["masks"][r], probs, unrefined, segments),
                    (out["logmag"], out["phase"]),
                )
                for r in range(top_k)
            ]
        first = self._interpretation(wavs, None, window, refinement, budget, refine)
        ranked = first.probs.topk(top_k, dim=-1).indices
        if wavs.shape[1] > window:  # long inputs: rank 1 is the file-level best class in every window
            return [self._interpretation(wavs, ranked[:, r], window, refinement, budget, refine) for r in range(top_k)]
        return [first] + [
            self._interpretation(wavs, ranked[:, r], window, refinement, budget, refine) for r in range(1, top_k)
        ]

    def _interpretation(self, wavs, target, window, refinement, budget=None, refine=None) -> Interpretation:
        return self._interpretation_of(
            wavs, target, window, budget, self._explain(wavs, target, window, refinement, refine)
        )

    def _interpretation_of(self, wavs, target, window, budget, explained, spectrum=None) -> Interpretation:
        """An :class:`Interpretation` from ``explained`` = (masks, probabilities, refined, segments);
        ``spectrum`` = (``log1p|X|``, phase) of ``wavs`` where already computed (inputs up to a window)."""
        lmac = self.mods.lmac
        mask, probs, refined, segments = explained
        n = wavs.shape[1]
        if n <= window:
            logmag, phase = spectrum or lmac.analyse(wavs)
        if budget is not None:  # the top share of the bins in L-MAC's ranking (LMAC.rank_scores)
            mask = keep_top(lmac.rank_scores(mask, logmag if n <= window else lmac.analyse(wavs)[0]), budget)
        if n <= window:
            audio_in = listenable(lmac.frontend, logmag, phase, mask, n, lmac.mask_domain)
            audio_out = listenable(lmac.frontend, logmag, phase, 1 - mask, n, lmac.mask_domain)
        else:  # chunk by chunk: memory stays that of one window
            parts = [
                long_spectrogram_and_audio(lmac.frontend, w, m, window, lmac.mask_domain) for w, m in zip(wavs, mask)
            ]
            logmag, audio_in, audio_out = (torch.stack(p) for p in zip(*parts))
        decode = self.hparams.label_encoder.decode_ndim
        labels = [decode(int(i)) for i in probs.argmax(dim=-1)]
        targets = labels if target is None else [decode(int(i)) for i in target]
        return Interpretation(
            mask, audio_in, audio_out, labels, probs, logmag, targets, refined, segments, input=wavs, budget=budget
        )

    def interpret_file(self, path: str, **kwargs) -> Union[Interpretation, List[Interpretation]]:
        """Explain one audio file (any format soundfile reads; mixed to mono, resampled to ``sample_rate``).

        The waveform is normalised by :meth:`interpret_batch` (:meth:`normalize`), so a file and its
        samples given to :meth:`interpret_batch` get the same explanation. Keyword arguments (``target``,
        ``top_k``, ``window_s``, ``refinement``, ``budget``, ``refine``) are those of :meth:`interpret_batch`.
        """
        wav = load_audio(path, self.hparams.sample_rate, normalize=False)
        return self.interpret_batch(wav.unsqueeze(0), **kwargs)

    def forward(self, wavs, wav_lens=None):
        """Same as :meth:`interpret_batch` with its defaults."""
        return self.interpret_batch(wavs, wav_lens)
