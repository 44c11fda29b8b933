"""``LMACBrain``: trains the L-MAC decoder (and its FT stage) on top of a frozen classifier.

Hooks only (SpeechBrain convention):

* ``compute_forward`` runs :class:`~lmac_brain.explain.lmac.LMAC` (input, mask, masked-in and masked-out logits);
* ``compute_objectives`` is one call to :func:`~lmac_brain.explain.objective.lmac_loss` (plus, when
  ``budget_weight > 0``, the matched-budget objective :func:`~lmac_brain.explain.objective.budget_loss` on the
  relaxed top-``q`` masks of
  :meth:`~lmac_brain.explain.lmac.LMAC.budget_logits`, and when ``ft_weight > 0``, the FT guidance of
  :func:`~lmac_brain.explain.objective.ft_guidance` against the clean clip, for a conditional decoder only on the
  items whose sampled class is the clip's label: the clean clip is evidence for that class alone); in evaluation it also
  collects the per-sample metrics of :mod:`lmac_brain.evaluation.metrics`;
* ``evaluate_batch`` is SpeechBrain's evaluation step followed by writing the listenable outputs (wav
  and figure) of the stage's first ``n_listen_valid`` / ``n_listen_test`` items, on the main process;
* ``on_stage_end`` averages metrics (all-reduced across DDP ranks), steps the plateau scheduler on the
  validation loss, and keeps the checkpoint with the lowest validation ``select_key``: ``loss`` (the
  training objective on deterministic noisy validation mixtures) or ``budget`` (the matched-budget
  objective alone, at every budget of ``budget_valid``); every value is in the saved metadata.

Why the loss and not Fid-In (the reference's LR-schedule input): an all-ones mask has perfect Fid-In,
so selecting on it favours masks that explain nothing; the objective balances faithfulness and size.

Expected ``hparams``: ``lmac`` (also in ``modules``), ``loss_weights`` (dict with ``w_in``, ``w_out``,
``w_l1``, ``w_tv``), ``budget_weight``, ``budget_train``, ``budget_valid``, ``budget_temperature``,
``budget_w_del``, ``select_key``, ``ft_weight`` (with ``ft_gate_threshold``, ``ft_oracle_threshold`` when
it is positive: the FT stage's config), ``double_softmax_ad``,
``lr_annealing``, ``train_logger``, ``epoch_counter``, ``listen_folder``, ``n_listen_valid``,
``n_listen_test``, ``stage_name``, ``label_encoder``.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Optional

import speechbrain as sb
import torch

from lmac_brain.evaluation.metrics import all_metrics
from lmac_brain.explain.figure import plot_interpretation
from lmac_brain.explain.listen import listenable, write_wav
from lmac_brain.explain.objective import budget_loss, ft_guidance, lmac_loss
from lmac_brain.training.distributed import CPUDistributedMixin, reduce_mean
from lmac_brain.training.schedule import PHASE_OPTIONS, Schedule
from lmac_brain.training.stage_values import StageValues

logger = logging.getLogger(__name__)


def check_stage_folder(checkpointer: sb.utils.checkpoints.Checkpointer, stage_name: str, n_epochs: int) -> None:
    """Refuse to resume a run of another stage; say so when a finished run will only be re-tested.

    SpeechBrain restores the newest checkpoint of the output folder before training. Starting the FT
    stage in the folder of a finished L-MAC run would therefore restore that run and fine-tune nothing
    (the reference recipe's pitfall). Checkpoints carry their ``stage`` in the metadata.

    Arguments
    ---------
    checkpointer : Checkpointer
        The run's checkpointer.
    stage_name : str
        ``"lmac"`` or ``"ft"``.
    n_epochs : int
        Number of epochs of this run.

    Raises
    ------
    RuntimeError
        If the folder holds checkpoints of another stage.

    Example
    -------
    >>> ckpt = sb.utils.checkpoints.Checkpointer(str(getfixture("tmpdir")))
    >>> _ = ckpt.save_checkpoint(meta={"stage": "lmac", "epoch": 3})
    >>> _ = ckpt.save_checkpoint(meta={"end-of-epoch": False})  # intra-epoch: no stage
    >>> check_stage_folder(ckpt, "lmac", 5)
    >>> check_stage_folder(ckpt, "ft", 5)
    Traceback (most recent call last):
    ...
    RuntimeError: ...
    """
    # Intra-epoch checkpoints (SpeechBrain's ckpt_interval_minutes) carry no stage: judge by the newest
    # end-of-epoch one.
    latest = checkpointer.find_checkpoint(ckpt_predicate=lambda ckpt: "stage" in ckpt.meta)
    if latest is None:
        return
    stage = latest.meta.get("stage")
    if stage != stage_name:
        raise RuntimeError(
            f"{checkpointer.checkpoints_dir} holds checkpoints of stage {stage!r}, not {stage_name!r}: "
            "resuming would restore that run instead of training this one. Use a new --output_folder "
            "(and pass the trained decoder with --decoder_init for the FT stage)."
        )
    if latest.meta.get("epoch", 0) >= n_epochs:
        logger.warning(
            "%s holds a finished %s run (%s epochs): nothing will be trained, only tested. Use a new "
            "--output_folder or a larger --number_of_epochs to train more.",
            checkpointer.checkpoints_dir,
            stage_name,
            latest.meta.get("epoch"),
        )


def check_select_key(hparams: dict) -> None:
    """Refuse a ``select_key`` the validation stage does not compute.

    Example
    -------
    >>> check_select_key({"select_key": "loss", "budget_weight": 0.0})
    >>> check_select_key({"select_key": "budget", "budget_weight": 0.0})
    Traceback (most recent call last):
    ...
    ValueError: select_key 'budget' needs the matched-budget objective: set budget_weight > 0 (or select_key: loss).
    """
    key = hparams["select_key"]
    if key == "budget" and hparams["budget_weight"] <= 0:
        raise ValueError(
            "select_key 'budget' needs the matched-budget objective: set budget_weight > 0 (or select_key: loss)."
        )
    if key not in ("loss", "budget"):
        raise ValueError(f"select_key must be 'loss' or 'budget', got {key!r}.")


def check_target_sampling(shares: dict) -> None:
    """Refuse ``target_sampling`` shares that are unknown, negative or do not sum to 1.

    Example
    -------
    >>> check_target_sampling({"decision": 0.5, "top_k": 0.2, "k": 5, "label": 0.2, "random": 0.1})
    >>> check_target_sampling({"decision": 0.5, "top_k": 0.2, "k": 5, "random": 0.2})
    Traceback (most recent call last):
    ...
    ValueError: target_sampling shares (decision, top_k, label, random) sum to 0.9, not 1: {'decision': 0.5, ...}.
    """
    names = ("decision", "top_k", "label", "random")
    unknown = sorted(set(shares) - set(names) - {"k"})
    if unknown or any(key not in shares for key in ("decision", "top_k", "random", "k")):
        raise ValueError(
            f"target_sampling needs decision, top_k, k, random (and optionally label); got {dict(shares)}."
        )
    values = [float(shares.get(name, 0.0)) for name in names]
    if min(values) < 0 or abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"target_sampling shares ({', '.join(names)}) sum to {sum(values):g}, not 1: {dict(shares)}.")


class LMACBrain(CPUDistributedMixin, sb.Brain):
    """Brain that trains the L-MAC decoder; the classifier inside ``modules.lmac`` stays frozen."""

    def compute_forward(self, batch, stage):
        """Run the L-MAC chain on the (noisy) input; add the clean clip's ``log1p|X|`` for FT."""
        batch = batch.to(self.device)
        # A conditional decoder learns on sampled classes; evaluation stages explain the decision.
        sample = None
        if stage == sb.Stage.TRAIN and self.hparams.lmac.conditional:
            sample = functools.partial(self._sample_targets, labels=batch.label_encoded.data.view(-1))
        out = self.modules.lmac(batch.sig[0], sample)
        if self.hparams.budget_weight > 0:  # matched-budget objective: kept/removed top-q parts
            out["budget_in"], out["budget_out"] = self.hparams.lmac.budget_logits(
                out, self._budgets(stage), self.hparams.budget_temperature
            )
        if self.hparams.ft_weight > 0:
            out["logmag_clean"] = self.hparams.lmac.analyse(batch.clean[0])[0]  # the unwrapped module under DDP
        return out

    def _sample_targets(self, logits: torch.Tensor, labels: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Classes a conditional decoder explains in a training step, one per item (global RNG, resumed
        exactly): the decision, one of the next ``k - 1`` most probable classes, the clip's labelled
        class, or a class at random, with the shares of ``target_sampling`` (``decision``, ``top_k``,
        ``label`` (optional, 0 if absent), ``random``; they sum to 1). The labelled class is what a
        user asks for when the classifier, on a noisy input, decided otherwise ("where is the dog?")."""
        shares = self.hparams.target_sampling
        check_target_sampling(shares)
        label_share = float(shares.get("label", 0.0))
        if label_share > 0 and labels is None:
            raise ValueError("target_sampling has a 'label' share but the batch has no labels (label_encoded).")
        batch, n_classes = logits.shape
        k = min(int(shares["k"]), n_classes)
        draw = torch.rand(batch)
        ranked = logits.topk(k, dim=-1).indices.cpu()
        runner_up = ranked.gather(1, torch.randint(1, max(k, 2), (batch, 1)).clamp(max=k - 1))[:, 0]
        anyone = torch.randint(n_classes, (batch,))
        upto_top_k = shares["decision"] + shares["top_k"]
        other = anyone
        if label_share > 0:
            other = torch.where(draw < upto_top_k + label_share, labels.cpu().long(), anyone)
        target = torch.where(draw < shares["decision"], ranked[:, 0], torch.where(draw < upto_top_k, runner_up, other))
        return target.to(logits.device)

    def _budgets(self, stage):
        """Training: one budget drawn per step from ``budget_train`` (global RNG, resumed exactly);
        evaluation: every budget of ``budget_valid``, so the validation loss is deterministic."""
        if stage == sb.Stage.TRAIN:
            choices = self.hparams.budget_train
            return [choices[int(torch.randint(len(choices), (1,)))]]
        return list(self.hparams.budget_valid)

    def compute_objectives(self, predictions, batch, stage):
        """L-MAC loss (+ FT guidance); the faithfulness metrics in evaluation stages."""
        out = predictions
        target = out["target"]  # the decision, or the sampled class of a conditional decoder
        regularize, guidance = None, 0.0
        if self.hparams.ft_weight > 0:
            # a conditional decoder's mask of another class than the clip's label is not guided
            evidence = (target == batch.label_encoded.data.view(-1)) if self.hparams.lmac.conditional else None
            gate, _, bce = ft_guidance(
                out["mask"],
                out["logmag"],
                out["logmag_clean"],
                self.hparams.ft_gate_threshold,
                self.hparams.ft_oracle_threshold,
                evidence,
            )
            regularize = 1.0 - gate  # L1/TV off for guided samples
            guidance = self.hparams.ft_weight * (gate * bce).mean()
            self.values["ft_gate"].append(gate.detach())
        loss, terms = lmac_loss(
            out["logits_in"], out["logits_out"], target, out["mask"], regularize=regularize, **self.hparams.loss_weights
        )
        if self.hparams.budget_weight > 0:
            n_budgets = out["budget_in"].shape[0] // target.shape[0]
            budget, budget_terms = budget_loss(
                out["budget_in"], out["budget_out"], target.repeat(n_budgets), self.hparams.budget_w_del
            )
            loss = loss + self.hparams.budget_weight * budget
            terms.update(budget_terms)
        for name, value in terms.items():
            self.values[name].append(value.view(1))
        if stage != sb.Stage.TRAIN:
            metrics = all_metrics(
                out["logits"], out["logits_in"], out["logits_out"], out["mask"], target, self.hparams.double_softmax_ad
            )
            for name, value in metrics.items():
                self.values[name].append(value.detach())
        return loss + guidance

    def evaluate_batch(self, batch, stage):
        """SpeechBrain's evaluation step, then the listenable files of the stage's first items."""
        with self.evaluation_ctx:
            out = self.compute_forward(batch, stage=stage)
            loss = self.compute_objectives(out, batch, stage=stage)
        self._write_listenable(batch, out, stage)
        return loss.detach().cpu()

    def _write_listenable(self, batch, out, stage):
        """One wav (masked-in audio, exact input length) and one PNG per item, named by item ID."""
        limit = self.hparams.n_listen_valid if stage == sb.Stage.VALID else self.hparams.n_listen_test
        if not sb.utils.distributed.if_main_process():
            return
        lmac = self.hparams.lmac  # the unwrapped module under DDP
        fe = lmac.frontend
        folder = os.path.join(self.hparams.listen_folder, str(stage).split(".")[-1].lower())
        wavs, lens = batch.sig
        for i, item_id in enumerate(batch.id):
            if limit is not None and self.n_listened >= limit:
                return
            length = int(round(float(lens[i]) * wavs.shape[1]))
            frames = fe.n_frames(length)
            logmag, phase, mask = (out[k][i : i + 1, :frames] for k in ("logmag", "phase", "mask"))
            audio = listenable(fe, logmag, phase, mask, length, lmac.mask_domain)[0]
            write_wav(os.path.join(folder, f"{item_id}_interpretation.wav"), audio, fe.sample_rate)
            plot_interpretation(
                os.path.join(folder, f"{item_id}_interpretation.png"),
                logmag[0],
                mask[0],
                lmac.apply_mask(logmag, mask)[0],
                fe.sample_rate,
                fe.hop_length,
                title=f"{item_id}: explains '{self.hparams.label_encoder.decode_ndim(int(out['logits'][i].argmax()))}'",
            )
            self.n_listened += 1

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stage_values = StageValues()  # a run resumed mid-epoch logs the whole epoch's values
        if self.checkpointer is not None:
            self.checkpointer.add_recoverable("stage_values", self.stage_values)
        phases = getattr(self.hparams, "schedule", None)
        self.schedule = Schedule(phases) if phases is not None else None
        # the config's values of what a phase may set; a phase overrides them for its epochs
        self.defaults = {
            key: getattr(self.hparams, key) for key in PHASE_OPTIONS if key not in ("gate_slope", "parts_off")
        }
        if self.schedule is not None and any(self.schedule.values("parts_off", [])):
            self.find_unused_parameters = True  # DDP: a phase's left-out parts get no gradient
        self.event_mixer = None  # the recipe's EventMixer, whose share a phase may set
        self.held_gate = None  # the time gate (a, b) a phase holds (gate_slope)

    def on_stage_start(self, stage, epoch=None):
        """Start the per-sample value store (the saved one, for a training stage resumed mid-epoch) and,
        with a ``schedule``, put the epoch's phase in force (the test stage: the loaded checkpoint's)."""
        self.values = self.stage_values.start(stage)
        self.n_listened = 0
        if self.schedule is not None:
            self._apply_phase(epoch if epoch is not None else self.hparams.epoch_counter.current, stage)

    def _apply_phase(self, epoch: int, stage) -> None:
        """Set the objective's options of ``epoch``'s phase and the decoder parts it leaves out; in training also
        its learning rate, event-mix share and held time gate (a function of the epoch: a resumed run puts the
        same phase in force)."""
        settings = self.schedule.settings(epoch, self.defaults)
        slope = settings.pop("gate_slope", None)
        for key in ("budget_weight", "budget_w_del", "budget_train", "target_sampling"):
            setattr(self.hparams, key, settings[key])
        phase = self.schedule.phase(epoch)
        # validation measures the decoder the phase trains; the test stage the exported one (every part)
        try:
            self.hparams.decoder.use_parts(() if stage == sb.Stage.TEST else settings["parts_off"])
        except ValueError as err:
            raise ValueError(f"schedule phase {phase} sets parts_off: {err}") from None
        if stage != sb.Stage.TRAIN:
            return
        logger.info("epoch %d: schedule phase %d of %d, %s", epoch, phase, len(self.schedule), settings)
        sb.nnet.schedulers.update_learning_rate(self.optimizer, settings["lr"])
        if self.event_mixer is not None:
            self.event_mixer.share = float(settings["event_mix_share"])
        elif settings["event_mix_share"] > 0:
            raise ValueError(
                f"schedule phase {phase} sets event_mix_share {settings['event_mix_share']} but the run has no "
                "event mixer (the recipe builds one when the config or a phase sets event_mix_share > 0)."
            )
        self.held_gate = None
        if slope is not None:
            decoder = self.hparams.decoder
            if not decoder.time_gate:
                raise ValueError(
                    f"schedule phase {phase} sets gate_slope {slope}; the decoder has no time gate. "
                    "Set time_gate: True or remove gate_slope from the schedule."
                )
            with torch.no_grad():
                decoder.gate[0] = slope
            self.held_gate = decoder.gate.detach().clone()  # b as trained before the phase

    @property
    def phase(self) -> int:
        """The schedule's phase (1-based) of the current epoch."""
        return self.schedule.phase(self.hparams.epoch_counter.current)

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Hold the time gate where the phase set it (the optimiser's step would move it)."""
        if self.held_gate is not None:
            with torch.no_grad():
                self.hparams.decoder.gate.copy_(self.held_gate)

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Load the best checkpoint; with a ``schedule``, the best of the last phase the run reached (earlier
        phases train towards it under other options, and their validation loss is on another objective)."""
        if self.schedule is None or self.checkpointer is None:
            return super().on_evaluate_start(max_key=max_key, min_key=min_key)
        phases = [c.meta["phase"] for c in self.checkpointer.list_checkpoints() if "phase" in c.meta]
        last = max(phases, default=None)
        self.checkpointer.recover_if_possible(
            max_key=max_key, min_key=min_key, ckpt_predicate=lambda c: c.meta.get("phase") == last
        )

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Summarise, schedule, log and checkpoint."""
        stats = {"loss": reduce_mean(torch.tensor([stage_loss]))}
        stats.update({name: reduce_mean(torch.cat(vals)) for name, vals in self.values.items()})
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        if stage == sb.Stage.VALID:
            meta = {"epoch": epoch}
            if self.schedule is None:  # the plateau scheduler on the validation loss
                old_lr, new_lr = self.hparams.lr_annealing([self.optimizer], epoch, stats["loss"])
                sb.nnet.schedulers.update_learning_rate(self.optimizer, new_lr)
            else:  # the schedule's learning rate, set at the next epoch's start
                old_lr, meta["phase"] = self.optimizer.param_groups[0]["lr"], self.phase
            self.hparams.train_logger.log_stats(
                stats_meta=dict(meta, lr=old_lr), train_stats=self.train_stats, valid_stats=stats
            )
            meta.update(stats, stage=self.hparams.stage_name)
            # with a schedule, each phase keeps its own best (and latest) checkpoint
            same_phase = None if self.schedule is None else (lambda c: c.meta.get("phase") == meta["phase"])
            self.checkpointer.save_and_keep_only(
                meta=meta, min_keys=[self.hparams.select_key], ckpt_predicate=same_phase
            )
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current}, test_stats=stats
            )
            self.test_stats = stats
