"""Small SpeechBrain EncoderClassifier folders (ECAPA-TDNN, x-vector) as users have them, for the tests of the
encoder path."""

import os

import torch
from speechbrain.dataio.encoder import CategoricalEncoder

LABELS = ["dog", "rain", "siren"]

_FEATURES = """\
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: 20
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
"""
_MODULES = """\
label_encoder: !new:speechbrain.dataio.encoder.CategoricalEncoder
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
        classifier: !ref <classifier>
        label_encoder: !ref <label_encoder>
"""

# The hub layout (as speechbrain/urbansound8k_ecapa): checkpoints at <pretrained_path>/..., label_encoder.txt.
ECAPA_YAML = (
    "pretrained_path: speechbrain/not-fetched-in-this-test\nsample_rate: 16000\n"
    + _FEATURES
    + """\
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: 20
    channels: [16, 16, 16, 16, 48]
    attention_channels: 8
    lin_neurons: 8
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: 8
    out_neurons: 3
"""
    + _MODULES
    + """\
    paths:
        embedding_model: !ref <pretrained_path>/embedding_model.ckpt
        classifier: !ref <pretrained_path>/classifier.ckpt
        label_encoder: !ref <pretrained_path>/label_encoder.txt
"""
)

# SpeechBrain's x-vector lobes; a pretrainer without paths (files <name>.ckpt in the folder).
XVECTOR_YAML = (
    _FEATURES
    + """\
embedding_model: !new:speechbrain.lobes.models.Xvector.Xvector
    in_channels: 20
    tdnn_channels: [16, 16, 16, 16, 32]
    lin_neurons: 8
classifier: !new:speechbrain.lobes.models.Xvector.Classifier
    input_shape: [null, null, 8]
    lin_neurons: 8
    out_neurons: 3
"""
    + _MODULES
)


def tiny_ecapa(n_classes: int, with_norm: bool = True):
    """A new small ECAPA-TDNN classifier built as a training config builds it (``build_encoder_classifier``)."""
    from lmac_brain.models.encoder_classifier import build_encoder_classifier

    return build_encoder_classifier(
        {"class": "speechbrain.lobes.features.Fbank", "args": {"n_mels": 20}},
        {
            "class": "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN",
            "args": {"input_size": 20, "channels": [16, 16, 16, 16, 48], "attention_channels": 8, "lin_neurons": 8},
        },
        {
            "class": "speechbrain.lobes.models.ECAPA_TDNN.Classifier",
            "args": {"input_size": 8, "out_neurons": n_classes},
        },
        mean_var_norm={
            "class": "speechbrain.processing.features.InputNormalization",
            "args": {"norm_type": "sentence", "std_norm": False},
        }
        if with_norm
        else None,
    )


def write_folder(folder, yaml_text: str, label_file: str, seed: int = 0, train=None) -> str:
    """A folder as a user has it: the YAML, weights of the modules it declares (seeded; trained by ``train(hp)``
    if given) and the labels."""
    from hyperpyyaml import load_hyperpyyaml

    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(seed)
    hp = load_hyperpyyaml(yaml_text)
    if train is not None:
        train(hp)
    for name in ("embedding_model", "classifier"):
        with torch.no_grad():  # untrained: batch-norm statistics away from the identity, so they matter
            for module in hp[name].modules() if train is None else ():
                if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                    module.running_mean.uniform_(-0.1, 0.1)
                    module.running_var.uniform_(0.5, 1.5)
        torch.save(hp[name].state_dict(), os.path.join(folder, f"{name}.ckpt"))
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(LABELS)
    encoder.save(os.path.join(folder, label_file))
    with open(os.path.join(folder, "hyperparams.yaml"), "w", encoding="utf-8") as f:
        f.write(yaml_text)
    return str(folder)


TONES_HZ = (300.0, 1500.0, 4000.0)  # one per label


def toy_tones(n: int, seed: int, rate: int = 16000, seconds: float = 0.5):
    """``n`` clips and labels: a tone of the label's frequency (random amplitude and phase, present in a random
    stretch of at least half the clip) in white noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, len(TONES_HZ), (n,), generator=g)
    t = torch.arange(int(rate * seconds)) / rate
    wavs = 0.05 * torch.randn(n, t.shape[0], generator=g)
    for i, c in enumerate(labels.tolist()):
        start = int(torch.randint(0, t.shape[0] // 2, (1,), generator=g))
        amp = 0.1 + 0.2 * float(torch.rand(1, generator=g))
        phase = 6.28 * float(torch.rand(1, generator=g))
        wavs[i, start : start + t.shape[0] // 2] += amp * torch.sin(6.2832 * TONES_HZ[c] * t[: t.shape[0] // 2] + phase)
    return wavs, labels


def train_on_tones(hp, steps: int = 60, logit_scale: float = 30.0) -> None:
    """Train the folder's modules (``hp``: its loaded YAML) on :func:`toy_tones` in place, as a cosine-head
    classifier with scale ``logit_scale``; they end in eval mode."""
    modules = torch.nn.ModuleList([hp["embedding_model"], hp["classifier"]])
    opt = torch.optim.Adam(modules.parameters(), lr=3e-3)
    modules.train()
    for step in range(steps):
        wavs, labels = toy_tones(24, seed=step)
        feats = hp["mean_var_norm"](hp["compute_features"](wavs), torch.ones(24))
        scores = hp["classifier"](hp["embedding_model"](feats)).squeeze(1)
        loss = torch.nn.functional.cross_entropy(logit_scale * scores, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    modules.eval()
