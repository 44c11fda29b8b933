"""``ClassifierBrain``: trains or fine-tunes the CNN14 audio classifier that L-MAC later explains.

Hooks only (SpeechBrain convention): features come from the shared :class:`~lmac_brain.frontend.Frontend`,
training adds SpecAugment-style drops and mixup, the loss is a soft-target cross-entropy, and the
checkpoint kept for testing is the one with the best validation accuracy (key ``acc``, which is in the
saved metadata). The learning-rate scheduler is stepped once per optimiser step.

Expected ``hparams`` keys: ``frontend``, ``classifier`` (an :class:`~lmac_brain.classifier.AudioClassifier`,
both also in ``modules``), ``n_classes``, ``mixup_alpha``, ``spec_augment`` (a module or ``null``),
``lr_annealing``, ``opt_class``, ``checkpointer``, ``train_logger``.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging

import speechbrain as sb
import torch

from lmac_brain.distributed import CPUDistributedMixin, reduce_mean
from lmac_brain.mixup import mixup_batch, soft_cross_entropy

logger = logging.getLogger(__name__)


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-sample top-1 correctness ``[B]`` (1.0 or 0.0).

    Example
    -------
    >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
    tensor([1., 0.])
    """
    return (logits.argmax(dim=-1) == targets).float()


class ClassifierBrain(CPUDistributedMixin, sb.Brain):
    """Brain for audio classification on log-mel features of the shared front end.

    Example
    -------
    >>> from lmac_brain.classifier import AudioClassifier, Cnn14
    >>> from lmac_brain.frontend import Frontend
    >>> from speechbrain.dataio.batch import PaddedBatch
    >>> clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3))
    >>> hp = dict(n_classes=3, mixup_alpha=0.0, spec_augment=None)
    >>> brain = ClassifierBrain(
    ...     modules={"frontend": Frontend(), "classifier": clf},
    ...     opt_class=lambda p: torch.optim.Adam(p, 1e-3), hparams=hp,
    ... )
    >>> batch = PaddedBatch([
    ...     {"id": "a", "sig": torch.randn(8000), "label_encoded": torch.tensor([0])},
    ...     {"id": "b", "sig": torch.randn(8000), "label_encoded": torch.tensor([2])},
    ... ])
    >>> logits, _ = brain.compute_forward(batch, sb.Stage.VALID)
    >>> print(logits.shape)
    torch.Size([2, 3])
    """

    def compute_forward(self, batch, stage):
        """Log-mel features -> (augmentation when training) -> logits ``[B, C]``."""
        batch = batch.to(self.device)
        wavs, _ = batch.sig
        targets = batch.label_encoded[0].view(-1)
        feats = self.modules.frontend.wav_to_features(wavs)
        soft_targets = None
        if stage == sb.Stage.TRAIN:
            if self.hparams.spec_augment is not None:
                feats = self.hparams.spec_augment(feats)
            feats, soft_targets = mixup_batch(
                feats, targets, self.hparams.n_classes, self.hparams.mixup_alpha
            )
        logits, _ = self.modules.classifier(feats)
        return logits, soft_targets

    def compute_objectives(self, predictions, batch, stage):
        """Soft-target cross-entropy (mixup targets when training); tracks accuracy otherwise."""
        logits, soft_targets = predictions
        targets = batch.label_encoded[0].view(-1).to(logits.device)
        if soft_targets is None:
            soft_targets = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        if stage != sb.Stage.TRAIN:
            self.acc_metric.append(batch.id, logits, targets)
        return soft_cross_entropy(logits, soft_targets)

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Step the per-update learning-rate schedule."""
        if should_step:
            self.hparams.lr_annealing(self.optimizer)

    def on_stage_start(self, stage, epoch=None):
        """Fresh accuracy tracker for each evaluation stage."""
        if stage != sb.Stage.TRAIN:
            self.acc_metric = sb.utils.metric_stats.MetricStats(metric=accuracy)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, checkpoint on validation accuracy, report test accuracy."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        stats = {
            "loss": reduce_mean(torch.tensor([stage_loss])),
            "acc": reduce_mean(torch.tensor(self.acc_metric.scores)),  # all ranks' samples
        }
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(meta=stats, max_keys=["acc"])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )
            self.test_stats = stats
