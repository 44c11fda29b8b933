"""``ClassifierBrain``: trains or fine-tunes the CNN14 audio classifier that L-MAC later explains.

Hooks only (SpeechBrain convention): features come from the shared :class:`~lmac_brain.models.frontend.Frontend`,
training adds SpecAugment-style drops and mixup, the loss is a soft-target cross-entropy. Evaluation
stages count a confusion matrix (summed over DDP ranks) and report accuracy ``acc`` and balanced accuracy
``bal_acc`` (:mod:`lmac_brain.training.class_balance`); the checkpoint kept for testing is the one with the best
validation ``bal_acc`` (in the saved metadata), which equals accuracy on class-balanced validation data
and does not reward a majority-class predictor on imbalanced data. After the test stage the confusion
matrix is in ``test_confusion``. The learning-rate scheduler is stepped once per optimiser step.

Expected ``hparams`` keys: ``frontend``, ``classifier`` (an :class:`~lmac_brain.models.classifier.AudioClassifier`,
both also in ``modules``), ``n_classes``, ``mixup_alpha``, ``spec_augment`` (a module or ``null``),
``lr_annealing``, ``opt_class``, ``checkpointer``, ``train_logger``.

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import logging

import speechbrain as sb
import torch

from lmac_brain.training.class_balance import confusion_matrix, summarize_confusion
from lmac_brain.training.distributed import CPUDistributedMixin, reduce_mean, reduce_sum
from lmac_brain.training.mixup import mixup_batch, soft_cross_entropy

logger = logging.getLogger(__name__)


class ClassifierBrain(CPUDistributedMixin, sb.Brain):
    """Brain for audio classification on log-mel features of the shared front end.

    Example
    -------
    >>> from lmac_brain.models.classifier import AudioClassifier, Cnn14
    >>> from lmac_brain.models.frontend import Frontend
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
    >>> brain.on_stage_start(sb.Stage.VALID)
    >>> _ = brain.compute_objectives((logits, None), batch, sb.Stage.VALID)
    >>> print(brain.confusion.sum(dim=1).tolist())  # one clip of class 0, one of class 2
    [1, 0, 1]
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
            feats, soft_targets = mixup_batch(feats, targets, self.hparams.n_classes, self.hparams.mixup_alpha)
        logits, _ = self.modules.classifier(feats)
        return logits, soft_targets

    def compute_objectives(self, predictions, batch, stage):
        """Soft-target cross-entropy (mixup targets when training); counts the confusion matrix otherwise."""
        logits, soft_targets = predictions
        targets = batch.label_encoded[0].view(-1).to(logits.device)
        if soft_targets is None:
            soft_targets = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
        if stage != sb.Stage.TRAIN:
            self.confusion += confusion_matrix(logits.argmax(dim=-1), targets, self.hparams.n_classes)
        return soft_cross_entropy(logits, soft_targets)

    def on_fit_batch_end(self, batch, outputs, loss, should_step):
        """Step the per-update learning-rate schedule."""
        if should_step:
            self.hparams.lr_annealing(self.optimizer)

    def on_stage_start(self, stage, epoch=None):
        """Fresh confusion counts for each evaluation stage."""
        if stage != sb.Stage.TRAIN:
            self.confusion = torch.zeros(self.hparams.n_classes, self.hparams.n_classes, dtype=torch.long)

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, checkpoint on validation balanced accuracy, report test accuracy and balanced accuracy."""
        if stage == sb.Stage.TRAIN:
            self.train_stats = {"loss": stage_loss}
            return
        confusion = reduce_sum(self.confusion)  # all ranks' samples
        summary = summarize_confusion(confusion)
        stats = {"loss": reduce_mean(torch.tensor([stage_loss])), "acc": summary["acc"], "bal_acc": summary["bal_acc"]}
        if stage == sb.Stage.VALID:
            lr = self.optimizer.param_groups[0]["lr"]
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            self.checkpointer.save_and_keep_only(meta=stats, max_keys=["bal_acc"])
        else:
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )
            self.test_stats = stats
            self.test_confusion = confusion
