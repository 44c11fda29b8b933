"""CNN14 audio classifier at any width, state-dict compatible with SpeechBrain's ``Cnn14``.

:class:`Cnn14` is the embedding network; :class:`AudioClassifier` chains it with a classification head
and returns logits together with the intermediate block outputs that the L-MAC decoder reads.

At ``width=1.0`` (and ``emb_dim=2048``) the parameter names and shapes are exactly those of
``speechbrain.lobes.models.Cnn14.Cnn14``, so the public ``speechbrain/cnn14-esc50`` checkpoint
(``embedding_model.ckpt``) loads unchanged. Smaller widths scale every block's channel count, which is
what makes training on a CPU possible (width 0.25: about 4.7 M parameters instead of 75.5 M).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn.functional as F

BASE_CHANNELS = (64, 128, 256, 512, 1024)
MIN_FRAMES = 32


def _norm2d(norm_type: str, channels: int) -> torch.nn.Module:
    if norm_type == "bn":
        norm = torch.nn.BatchNorm2d(channels)
        torch.nn.init.ones_(norm.weight)
        torch.nn.init.zeros_(norm.bias)
        return norm
    if norm_type == "in":
        return torch.nn.InstanceNorm2d(channels, affine=True, track_running_stats=True)
    if norm_type == "ln":
        return torch.nn.GroupNorm(1, channels)
    raise ValueError(f"Unknown norm_type {norm_type!r}; choose 'bn', 'in' or 'ln'.")


class ConvBlock(torch.nn.Module):
    """Two (3x3 conv, norm, ReLU) layers then average pooling: one CNN14 block.

    Parameter names (``conv1``, ``norm1``, ``conv2``, ``norm2``) are those of SpeechBrain's
    ``ConvBlock``. Unlike it, the ReLUs are modules (``relu1``, ``relu2``, no parameters), so that
    hook-based attribution methods (Captum's guided backpropagation) see them.

    Arguments
    ---------
    in_channels, out_channels : int
        Channels in and out.
    norm_type : str
        ``"bn"``, ``"in"`` or ``"ln"``.
    pool_size : tuple of int
        Average-pooling size (``(1, 1)``: none).

    Example
    -------
    >>> print(ConvBlock(1, 8, "bn")(torch.rand(2, 1, 20, 16)).shape)
    torch.Size([2, 8, 10, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, norm_type: str = "bn", pool_size=(2, 2)):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm1 = _norm2d(norm_type, out_channels)
        self.relu1 = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.norm2 = _norm2d(norm_type, out_channels)
        self.relu2 = torch.nn.ReLU()
        self.pool_size = tuple(pool_size)
        for conv in (self.conv1, self.conv2):
            torch.nn.init.xavier_uniform_(conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, T, M]`` -> ``[B, C_out, T / p, M / p]``."""
        x = self.relu1(self.norm1(self.conv1(x)))
        x = self.relu2(self.norm2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=self.pool_size) if self.pool_size != (1, 1) else x


class Cnn14(torch.nn.Module):
    """CNN14 embedding network (Kong et al., 2020) with a channel-width multiplier.

    Input log-mel features ``[B, T, n_mels]`` go through a batch norm over mel bins, six conv blocks
    (two 3x3 conv + norm + ReLU each; 2x2 average pooling after blocks 1-5) with dropout 0.2, a mean
    over frequency and ``max_t + mean_t`` pooling over time. Works for any number of frames ``T``;
    inputs shorter than 32 frames (about 0.37 s at the default hop) are zero-padded (silence) to 32.

    Arguments
    ---------
    mel_bins : int
        Number of mel bins of the input.
    emb_dim : int
        Channels of the last block, i.e. the embedding size.
    width : float
        Multiplier of the channels of blocks 1-5 (64, 128, 256, 512, 1024 at ``width=1``).
    norm_type : str
        ``"bn"``, ``"in"`` or ``"ln"`` (as SpeechBrain's ``Cnn14``).
    return_reps : bool
        If True, also return the outputs of blocks 6, 5, 4 and 3 (deepest first), as SpeechBrain does.

    Example
    -------
    >>> net = Cnn14(mel_bins=80, emb_dim=64, width=0.125, return_reps=True)
    >>> emb, reps = net(torch.rand(2, 431, 80))
    >>> print(emb.shape)
    torch.Size([2, 1, 64])
    >>> print([tuple(r.shape) for r in reps])
    [(2, 64, 13, 2), (2, 128, 13, 2), (2, 64, 26, 5), (2, 32, 53, 10)]
    """

    def __init__(
        self,
        mel_bins: int = 80,
        emb_dim: int = 2048,
        width: float = 1.0,
        norm_type: str = "bn",
        return_reps: bool = False,
    ):
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}.")
        self.mel_bins, self.emb_dim, self.width, self.norm_type = mel_bins, emb_dim, width, norm_type
        self.return_reps = return_reps
        self.channels = [max(1, int(round(c * width))) for c in BASE_CHANNELS] + [emb_dim]
        self.norm0 = _norm2d(norm_type, mel_bins)
        in_ch = 1
        for i, out_ch in enumerate(self.channels, start=1):
            # Attribute names conv_block1..6 match SpeechBrain's Cnn14 state dict.
            pool = (1, 1) if i == len(self.channels) else (2, 2)
            setattr(self, f"conv_block{i}", ConvBlock(in_ch, out_ch, norm_type, pool))
            in_ch = out_ch

    def forward(self, x: torch.Tensor):
        """Embed log-mel features.

        Arguments
        ---------
        x : torch.Tensor
            ``[B, T, n_mels]``.

        Returns
        -------
        emb : torch.Tensor
            ``[B, 1, emb_dim]``.
        reps : tuple of torch.Tensor
            Only if ``return_reps``: outputs of blocks 6, 5, 4, 3, each ``[B, C, T', F']``.
        """
        if x.dim() != 3 or x.shape[-1] != self.mel_bins:
            raise ValueError(f"Cnn14 expects log-mel features [B, T, {self.mel_bins}], got {tuple(x.shape)}.")
        if x.shape[1] < MIN_FRAMES:  # five 2x poolings need 32 frames: pad with silence (log-mel 0)
            x = F.pad(x, (0, 0, 0, MIN_FRAMES - x.shape[1]))
        x = self.norm0(x.unsqueeze(1).transpose(1, 3)).transpose(1, 3)  # norm over mel bins
        outs: List[torch.Tensor] = []
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x)
            outs.append(x)
            x = F.dropout(x, p=0.2, training=self.training)
        x = x.mean(dim=3)
        emb = (x.amax(dim=2) + x.mean(dim=2)).unsqueeze(1)
        if not self.return_reps:
            return emb
        return emb, (outs[5], outs[4], outs[3], outs[2])


class AudioClassifier(torch.nn.Module):
    """Embedding network + classification head, returning logits and block outputs.

    Arguments
    ---------
    embedding_model : Cnn14
        Built with ``return_reps=True``.
    head : torch.nn.Module
        Maps ``[B, 1, emb_dim]`` to ``[B, 1, C]`` or ``[B, C]`` scores (e.g. ``torch.nn.Linear`` or
        SpeechBrain's ``ECAPA_TDNN.Classifier``, the head of ``speechbrain/cnn14-esc50``).
    logit_scale : float
        Multiplies the head's scores. SpeechBrain's ``Classifier`` outputs cosine similarities in
        ``[-1, 1]`` (trained with a margin softmax at scale 30); set 30 there to get calibrated logits.

    Example
    -------
    >>> emb = Cnn14(mel_bins=80, emb_dim=32, width=0.125, return_reps=True)
    >>> clf = AudioClassifier(emb, torch.nn.Linear(32, 5))
    >>> logits, reps = clf(torch.rand(2, 100, 80))
    >>> print(logits.shape, len(reps))
    torch.Size([2, 5]) 4
    """

    def __init__(self, embedding_model: Cnn14, head: torch.nn.Module, logit_scale: float = 1.0):
        super().__init__()
        if not getattr(embedding_model, "return_reps", False):
            raise ValueError("AudioClassifier needs an embedding model built with return_reps=True.")
        self.embedding_model = embedding_model
        self.head = head
        self.logit_scale = logit_scale

    def forward(self, feats: torch.Tensor) -> Tuple[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """Classify log-mel features ``[B, T, n_mels]``.

        Returns
        -------
        logits : torch.Tensor
            ``[B, C]``.
        reps : tuple of torch.Tensor
            Outputs of blocks 6, 5, 4, 3 of the embedding network.
        """
        emb, reps = self.embedding_model(feats)
        logits = self.head(emb)
        if logits.dim() == 3:
            logits = logits.squeeze(1)
        return logits * self.logit_scale, reps

    def class_directions(self, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The head's view of classes ``target`` ``[B]``: a direction in embedding space and a bias.

        For a ``torch.nn.Linear`` head, row ``c`` of the weight and bias ``c`` (``logit_c = w_c . emb + b_c``).
        For SpeechBrain's cosine ``Classifier`` (``speechbrain/cnn14-esc50``), the class weight mapped back
        through its linear block (and the batch-norm scale before it), bias 0. This is what a
        class-conditional decoder is told about the class it explains: it comes from the classifier, so
        another head gives another explanation.

        Returns
        -------
        directions : torch.Tensor
            ``[B, emb_dim]``.
        bias : torch.Tensor
            ``[B]``.

        Example
        -------
        >>> clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 3))
        >>> w, b = clf.class_directions(torch.tensor([2, 0]))
        >>> print(w.shape, bool(torch.equal(w[0], clf.head.weight[2])), bool(torch.equal(b, clf.head.bias[[2, 0]])))
        torch.Size([2, 16]) True True
        """
        return head_class_directions(self.head, target)


def head_class_directions(head: torch.nn.Module, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """A classification head's view of classes ``target`` ``[B]``: a direction and a bias per class, in the space
    the head's last linear map reads.

    ``torch.nn.Linear``: row ``c`` of the weight and bias ``c``. SpeechBrain's cosine ``Classifier`` (CNN14,
    ECAPA-TDNN): the class weight mapped back through its linear block, if any (and the batch-norm scale before
    it) to the embedding space, bias 0. SpeechBrain's x-vector ``Classifier`` (linear blocks with nonlinearities,
    then ``out`` and a softmax): row ``c`` of ``out`` and its bias, in the space of its last hidden layer.

    Example
    -------
    >>> from speechbrain.lobes.models.Xvector import Classifier
    >>> head = Classifier(input_shape=[None, None, 8], lin_neurons=6, out_neurons=3)
    >>> w, b = head_class_directions(head, torch.tensor([1, 2]))
    >>> print(w.shape, bool(torch.equal(w, head.out.w.weight[[1, 2]])), b.shape)
    torch.Size([2, 6]) True torch.Size([2])
    """
    if isinstance(head, torch.nn.Linear):
        bias = head.bias[target] if head.bias is not None else head.weight.new_zeros(target.shape[0])
        return head.weight[target], bias
    out = getattr(head, "out", None)
    if out is not None and isinstance(getattr(out, "w", None), torch.nn.Linear):  # x-vector Classifier
        return out.w.weight[target], out.w.bias[target]
    blocks = getattr(head, "blocks", None)
    weight = getattr(head, "weight", None)
    if weight is not None and blocks is not None and len(blocks) <= 2:  # SpeechBrain Classifier, <= 1 linear block
        direction = weight[target]  # [B, lin_neurons]
        if len(blocks) == 2:
            norm, linear = blocks[0], blocks[1]
            direction = direction @ linear.w.weight  # back to the embedding space
            bn = norm.norm
            scale = (
                bn.weight / torch.sqrt(bn.running_var + bn.eps)
                if bn.affine
                else 1.0 / torch.sqrt(bn.running_var + bn.eps)
            )
            direction = direction * scale
        return direction, direction.new_zeros(target.shape[0])
    raise TypeError(
        f"class_directions supports a torch.nn.Linear head, SpeechBrain's Classifier with at most one linear block "
        f"or its x-vector Classifier, not {type(head).__name__}; use the unconditional decoder (conditional: False)."
    )
