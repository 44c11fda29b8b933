"""Model-randomisation sanity check (Adebayo et al., 2018) for any explainer.

The classifier's layers are re-initialised top-down, cumulatively (head, then block 6, then block 5,
...); after each step the explainer is rebuilt on the randomised classifier and its masks are compared
with the masks for the trained classifier by a tie-aware Spearman rank correlation. A method whose masks barely
change is not explaining the model (it may be an edge detector of the input).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import copy
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from scipy import stats

from lmac_brain.models.classifier import AudioClassifier


def randomized_classifiers(classifier: AudioClassifier, seed: int = 0) -> Iterator[Tuple[str, AudioClassifier]]:
    """Yield ``(name, copy)`` with the top layers re-initialised, one more layer at each step.

    Steps: ``head``, ``conv_block6``, ..., ``conv_block1`` (the input batch norm is kept). The original
    classifier is never modified.

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 2))
    >>> print([name for name, _ in randomized_classifiers(clf)])
    ['head', 'conv_block6', 'conv_block5', 'conv_block4', 'conv_block3', 'conv_block2', 'conv_block1']
    """
    current = copy.deepcopy(classifier).eval()
    layers = _layers(current)
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        for name, layer in layers:
            for module in layer.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
            yield name, copy.deepcopy(current).eval()
    finally:
        torch.random.set_rng_state(gen_state)


def _layers(classifier) -> List[Tuple[str, torch.nn.Module]]:
    """The classifier's layers from the top, as the cascade re-initialises them: the head, then CNN14's six
    convolution blocks, or another encoder's (ECAPA-TDNN, x-vector) layers with parameters, a ModuleList's
    items one by one."""
    emb = classifier.embedding_model
    if hasattr(emb, "conv_block1"):
        blocks = [(f"conv_block{i}", getattr(emb, f"conv_block{i}")) for i in range(len(emb.channels), 0, -1)]
    else:
        blocks = []
        for name, child in emb.named_children():
            if isinstance(child, torch.nn.ModuleList):
                blocks += [(f"{name}.{i}", item) for i, item in enumerate(child)]
            else:
                blocks.append((name, child))
        blocks = [(name, module) for name, module in reversed(blocks) if any(True for _ in module.parameters())]
    return [("head", classifier.head)] + blocks


def randomization_levels(classifier) -> List[str]:
    """Names of the cumulative randomisation steps of :func:`randomized_classifiers`, in order (the last one:
    every layer re-initialised).

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> randomization_levels(AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 2)))[-1]
    'conv_block1'
    """
    return [name for name, _ in _layers(classifier)]


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Tie-aware Spearman rank correlation of each pair of masks ``[B, ...]``, ``[B]``.

    Computed by :func:`scipy.stats.spearmanr` (tied values share their average rank), so masks that are
    constant over large regions (Grad-CAM after its ReLU, guided methods, binary masks) are not given
    a correlation by the positions of their ties. A pair in which either mask is constant has no rank
    correlation: its entry is NaN, and the tables count such items instead of averaging them
    (:func:`lmac_brain.evaluation.tables.mean_ci`).

    Example
    -------
    >>> x = torch.tensor([[0.1, 0.5, 0.3, 0.9]])
    >>> print(spearman(x, x * 2).tolist(), spearman(x, -x).tolist())
    [1.0] [-1.0]
    >>> flat = torch.zeros(1, 8)
    >>> one, other = flat.clone(), flat.clone()
    >>> one[0, :2], other[0, -2:] = 1.0, 1.0  # ties everywhere else
    >>> round(float(spearman(one, other)), 3), spearman(flat, one).isnan().item()
    (-0.333, True)
    """
    if a.shape != b.shape:
        raise ValueError(f"spearman needs masks of one shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    flat_a = a.detach().flatten(1).double().cpu().numpy()
    flat_b = b.detach().flatten(1).double().cpu().numpy()
    out = []
    for x, y in zip(flat_a, flat_b):
        if np.ptp(x) == 0 or np.ptp(y) == 0:  # no ranking: the correlation is undefined
            out.append(float("nan"))
        else:
            out.append(float(stats.spearmanr(x, y).statistic))
    return torch.tensor(out, dtype=torch.float32)


def randomization_test(
    make_explainer: Callable[[AudioClassifier], object],
    classifier: AudioClassifier,
    wavs: torch.Tensor,
    seed: int = 0,
    levels: Optional[Sequence[str]] = None,
) -> Dict[str, torch.Tensor]:
    """Spearman correlation ``[B]`` between masks for the trained and each randomised classifier.

    Arguments
    ---------
    make_explainer : callable
        Builds an explainer (anything with ``explain(wavs)``) on a given classifier.
    classifier : AudioClassifier
        The trained classifier.
    wavs : torch.Tensor
        ``[B, N]`` inputs.
    seed : int
        Seed of the re-initialisation.
    levels : sequence of str, optional
        Only explain at these cumulative steps (names from :func:`randomized_classifiers`); the
        re-initialisation still goes through every layer above them. Default: every step.

    Returns
    -------
    dict
        Randomised layer (cumulative) -> ``[B]`` correlations.

    Example
    -------
    >>> from lmac_brain.models.classifier import Cnn14
    >>> from lmac_brain.models.frontend import Frontend
    >>> fe = Frontend()
    >>> clf = AudioClassifier(Cnn14(80, 16, 0.0625, return_reps=True), torch.nn.Linear(16, 2)).eval()
    >>> class InputEnergy:  # ignores the model entirely
    ...     def __init__(self, classifier): pass
    ...     def explain(self, wavs): return fe.log_magnitude_phase(wavs)[0]
    >>> out = randomization_test(InputEnergy, clf, torch.randn(1, 8000), levels=["head", "conv_block1"])
    >>> print(list(out), round(float(out["conv_block1"][0]), 3))
    ['head', 'conv_block1'] 1.0
    """
    steps = [name for name, _ in randomized_classifiers(classifier, seed)]
    wanted = list(steps if levels is None else levels)
    unknown = [name for name in wanted if name not in steps]
    if unknown:
        raise ValueError(f"Unknown randomisation levels {unknown}; choose from {steps}.")
    reference = make_explainer(classifier).explain(wavs)
    out = {}
    for name, randomized in randomized_classifiers(classifier, seed):
        if name in wanted:
            out[name] = spearman(reference, make_explainer(randomized).explain(wavs))
        if len(out) == len(wanted):
            break
    return out
