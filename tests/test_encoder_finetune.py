"""A SpeechBrain EncoderClassifier folder (the hub layout of speechbrain/urbansound8k_ecapa) re-headed for your
labels: :mod:`lmac_brain.models.encoder_finetune`, then the fine-tune recipe (hparams/finetune_encoder_cpu.yaml)
and L-MAC on your data (hparams/lmac_ecapa_custom_cpu.yaml) as a user runs them."""

import json
import subprocess
import sys

import pytest
import torch
from encoder_models import ECAPA_YAML, XVECTOR_YAML, write_folder
from limits import HANG_S
from speechbrain.inference.classifiers import EncoderClassifier
from test_custom_data import write_class_folders

from lmac_brain.models.encoder_classifier import EncoderFolderError
from lmac_brain.models.encoder_finetune import folder_spec, reheaded_encoder
from lmac_brain.models.encoder_folder import load_encoder_classifier


@pytest.fixture(scope="module")
def hub_ecapa(tmp_path_factory):
    """An ECAPA-TDNN folder in the hub layout (pretrained_path, label_encoder.txt), classes dog / rain / siren."""
    return write_folder(tmp_path_factory.mktemp("hub") / "urbansound_like", ECAPA_YAML, "label_encoder.txt")


def test_the_spec_is_the_folders_parts():
    spec = folder_spec(XVECTOR_YAML)
    assert sorted(spec) == ["classifier", "compute_features", "embedding_model", "mean_var_norm"]
    assert spec["classifier"] == {
        "class": "speechbrain.lobes.models.Xvector.Classifier",
        "args": {"input_shape": [None, None, 8], "lin_neurons": 8, "out_neurons": 3},
    }
    assert spec["compute_features"]["args"] == {"n_mels": 20}


def test_reheaded_keeps_the_folders_encoder_and_sizes_the_head(hub_ecapa, tmp_path):
    source = load_encoder_classifier(hub_ecapa)
    model = reheaded_encoder(hub_ecapa, 5)
    assert model.classifier.weight.shape[0] == 5 and model.spec["classifier"]["args"]["out_neurons"] == 5
    for (name, ours), (_, theirs) in zip(
        model.embedding_model.state_dict().items(), source.embedding_model.state_dict().items()
    ):
        assert torch.equal(ours, theirs), name
    assert all(p.requires_grad for p in model.parameters()) and model.labels == []

    from lmac_brain.interface.encoder_export import export_encoder_classifier

    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"'c{i}' => {i}\n" for i in range(5)) + "================\n'starting_index' => 0\n")
    folder = export_encoder_classifier(str(tmp_path / "out"), model.eval(), str(labels), {}, 30.0)
    wavs = torch.randn(2, 16000) * 0.1
    sb = EncoderClassifier.from_hparams(source=folder, savedir=str(tmp_path / "sb"))
    with torch.no_grad():
        torch.testing.assert_close(sb.classify_batch(wavs)[0], model(wavs), rtol=1e-4, atol=1e-4)


def test_a_head_that_is_not_plain_arguments_is_named(tmp_path):
    text = XVECTOR_YAML.replace(
        "    out_neurons: 3\n", "    out_neurons: 3\n    activation: !name:torch.nn.LeakyReLU\n"
    )
    folder = write_folder(tmp_path / "f", text, "label_encoder.ckpt")
    with pytest.raises(EncoderFolderError, match="hyperparams.yaml: 'classifier' is built with !name:torch.nn.Leaky"):
        reheaded_encoder(folder, 4)


def test_a_normalisation_with_statistics_is_named(tmp_path):
    """Global statistics (loaded by the folder's pretrainer) would not survive the export: refused."""
    from speechbrain.processing.features import InputNormalization

    text = XVECTOR_YAML.replace("    norm_type: sentence\n", "    norm_type: global\n").replace(
        "        label_encoder: !ref <label_encoder>\n",
        "        label_encoder: !ref <label_encoder>\n        mean_var_norm: !ref <mean_var_norm>\n",
    )
    folder = write_folder(tmp_path / "f", text, "label_encoder.ckpt")
    norm = InputNormalization(norm_type="global", std_norm=False)
    norm(torch.randn(2, 50, 20), torch.ones(2))  # training mode: collects the statistics
    norm._save(f"{folder}/mean_var_norm.ckpt")
    assert load_encoder_classifier(folder)(torch.randn(1, 16000)).shape == (1, 3)  # a folder SpeechBrain loads
    with pytest.raises(EncoderFolderError, match="hyperparams.yaml: 'mean_var_norm' has norm_type 'global'"):
        reheaded_encoder(folder, 4)


def test_a_head_without_out_neurons_is_named(tmp_path):
    text = ECAPA_YAML.replace(
        "classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier\n    input_size: 8\n    out_neurons: 3\n",
        "classifier: !new:torch.nn.Linear\n    in_features: 8\n    out_features: 3\n",
    )
    folder = write_folder(tmp_path / "f", text, "label_encoder.txt")
    with pytest.raises(EncoderFolderError, match=r"'classifier' \(torch.nn.Linear\) has no out_neurons"):
        reheaded_encoder(folder, 4)


def _run(repo_root, cwd, script, config, args):
    cmd = [sys.executable, str(repo_root / "recipes/custom/interpret" / script), str(repo_root / "hparams" / config)]
    proc = subprocess.run(cmd + list(args), cwd=cwd, capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_hub_classifier_fine_tuned_on_your_labels_then_explained(hub_ecapa, repo_root, tmp_path):
    """The README's path: finetune_encoder_cpu.yaml re-heads the folder for the data's two classes (at lr 0 the
    encoder's weights stay the folder's: they were loaded), exports a folder SpeechBrain loads, and
    lmac_ecapa_custom_cpu.yaml trains L-MAC on it (every phase) into an interpreter that explains a file."""
    from lmac_brain.interface.interpreter import LMACInterpreter

    data = write_class_folders(tmp_path / "my_sounds", classes=("hum", "whistle"))
    tiny = ["--dataset", str(data), "--batch_size", "4", "--train_crop_s", "0.5"]
    _run(
        repo_root,
        tmp_path,
        "train_classifier.py",
        "finetune_encoder_cpu.yaml",
        tiny
        + ["--pretrained_source", hub_ecapa, "--output_folder", str(tmp_path / "clf"), "--number_of_epochs", "1"]
        + ["--lr", "0.0", "--warmup_steps", "1"],
    )
    export = tmp_path / "clf" / "classifier"
    metrics = json.loads((export / "metrics.json").read_text("utf-8"))
    assert metrics["classes"] == ["hum", "whistle"] and metrics["pretrained_source"] == hub_ecapa
    ours = load_encoder_classifier(str(export))
    source = load_encoder_classifier(hub_ecapa)
    assert ours.labels == ["hum", "whistle"] and ours.logit_scale == 30.0
    for (name, tuned), (_, start) in zip(
        ours.embedding_model.named_parameters(), source.embedding_model.named_parameters()
    ):
        assert torch.equal(tuned, start), name
    assert EncoderClassifier.from_hparams(source=str(export), savedir=str(tmp_path / "sb")) is not None

    out = tmp_path / "lmac"
    log = _run(
        repo_root,
        tmp_path,
        "train_lmac.py",
        "lmac_ecapa_custom_cpu.yaml",
        tiny
        + ["--classifier_source", str(export), "--output_folder", str(out), "--epoch_scale", "0.05"]
        + ["--n_listen_valid", "0", "--n_listen_test", "0"],
    )
    assert [f"phase: {p}" in (out / "train_log.txt").read_text("utf-8") for p in range(1, 6)] == [True] * 5
    assert "test AI" in log
    interp = LMACInterpreter.from_hparams(source=str(out / "interpreter"))
    result = interp.interpret_file(str(data / "whistle" / "whistle_0.wav"))
    assert result.labels[0] in ("hum", "whistle") and result.probs.shape == (1, 2)
