"""Tests of lmac_brain.interface.export: hub-style folder round trip, head configs, safe writes."""

import os

import pytest
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.lobes.models.ECAPA_TDNN import Classifier as SBHead

from lmac_brain.interface.export import EXPORT_FILES, export_classifier, head_config
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.frontend import Frontend

LABELS = "'dog' => 0\n'rain' => 1\n'cat' => 2\n================\n'starting_index' => 0\n"


def _trained_like(head):
    torch.manual_seed(0)
    clf = AudioClassifier(Cnn14(80, 32, 0.125, return_reps=True), head)
    with torch.no_grad():  # make BN statistics non-default so that a missed buffer would show
        clf.train()(torch.rand(4, 100, 80))
    return clf.eval()


@pytest.mark.parametrize(
    "head", [torch.nn.Linear(32, 3), SBHead(input_size=32, lin_blocks=1, lin_neurons=8, out_neurons=3)]
)
def test_export_then_load_gives_same_logits(tmp_path, head):
    clf = _trained_like(head)
    labels = tmp_path / "label_encoder.txt"
    labels.write_text(LABELS, encoding="utf-8")
    out = export_classifier(str(tmp_path / "export"), Frontend(), clf, str(labels), {"test_acc": 0.5})
    assert sorted(os.listdir(out)) == sorted(EXPORT_FILES)

    with open(os.path.join(out, "hyperparams.yaml"), encoding="utf-8") as f:
        hp = load_hyperpyyaml(f, {"source": out})
    hp["pretrainer"].set_collect_in(str(tmp_path / "collect"))
    hp["pretrainer"].collect_files()
    hp["pretrainer"].load_collected()
    loaded = hp["modules"]["classifier"].eval()
    feats = hp["modules"]["frontend"].wav_to_features(torch.randn(2, 16000))
    with torch.no_grad():
        assert torch.allclose(loaded(feats)[0], clf(feats)[0], atol=1e-6)
    assert hp["label_encoder"].decode_ndim(2) == "cat"


def test_head_config_of_speechbrain_classifier():
    cls, args = head_config(SBHead(input_size=2048, lin_blocks=1, out_neurons=50))
    assert cls.endswith("ECAPA_TDNN.Classifier")
    assert args == {"input_size": 2048, "lin_blocks": 1, "lin_neurons": 192, "out_neurons": 50}
    with pytest.raises(TypeError, match="Cannot export"):
        head_config(torch.nn.Identity())


def test_existing_folder_is_not_overwritten_without_flag(tmp_path):
    labels = tmp_path / "label_encoder.txt"
    labels.write_text(LABELS, encoding="utf-8")
    clf = _trained_like(torch.nn.Linear(32, 3))
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(FileExistsError, match="overwrite"):
        export_classifier(str(out), Frontend(), clf, str(labels), {})
    assert os.listdir(out) == ["keep.txt"]
    export_classifier(str(out), Frontend(), clf, str(labels), {}, overwrite=True)
    assert sorted(os.listdir(out)) == sorted(EXPORT_FILES)


def test_failed_export_leaves_nothing_behind(tmp_path):
    clf = _trained_like(torch.nn.Linear(32, 3))
    with pytest.raises(FileNotFoundError):
        export_classifier(str(tmp_path / "export"), Frontend(), clf, str(tmp_path / "missing.txt"), {})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("options", [{}, {"fine_channels": 4, "spec_gain": False}])
def test_interpreter_folder_rebuilds_the_decoder_options(tmp_path, options):
    from lmac_brain.explain.lmac import LMAC
    from lmac_brain.interface.export import export_interpreter
    from lmac_brain.interface.interpreter import LMACInterpreter
    from lmac_brain.models.decoder import LMACDecoder, rep_channels

    torch.manual_seed(0)
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    decoder = LMACDecoder(rep_channels(emb), hidden=4, out_channels=2, **options)
    for p in decoder.parameters():  # non-trivial weights, so that a wrong rebuild shows
        torch.nn.init.normal_(p, std=0.1)
    lmac = LMAC(Frontend(), AudioClassifier(emb, torch.nn.Linear(16, 2)), decoder).eval()
    enc = tmp_path / "label_encoder.txt"
    enc.write_text("'dog' => 0\n'rain' => 1\n================\n'starting_index' => 0\n", "utf-8")
    folder = export_interpreter(str(tmp_path / "interp"), lmac, str(enc), {}, "# card")
    interp = LMACInterpreter.from_hparams(source=folder)
    assert interp.mods.lmac.decoder.config() == decoder.config()
    wav = torch.randn(1, 16000) * 0.3
    expected = lmac.explain(wav / wav.abs().max())
    assert torch.allclose(interp.interpret_batch(wav).mask, expected, atol=1e-6)


def test_folders_exported_before_the_subpackages_are_refused_with_the_fix(tiny_interpreter_folder, tmp_path):
    """An interpreter folder whose hyperparams.yaml names the old flat module paths
    (``lmac_brain.decoder.LMACDecoder``, ...) stops with an error that names the file and the paths to
    replace; the folder is not touched; after the replacement it says, it explains as a current export."""
    import shutil
    import subprocess

    from lmac_brain.interface.folder_checks import ModelFolderError
    from lmac_brain.interface.interpreter import LMACInterpreter

    old = tmp_path / "old"
    shutil.copytree(tiny_interpreter_folder, old)
    text = (old / "hyperparams.yaml").read_text(encoding="utf-8")
    for new_path, old_path in [("lmac_brain.models.", "lmac_brain."), ("lmac_brain.explain.lmac.", "lmac_brain.lmac.")]:
        assert new_path in text
        text = text.replace(new_path, old_path)
    (old / "hyperparams.yaml").write_text(text, encoding="utf-8")
    assert "!new:lmac_brain.decoder.LMACDecoder" in text and "!new:lmac_brain.lmac.LMAC" in text
    with pytest.raises(
        ModelFolderError,
        match=r"hyperparams.yaml: names module paths .*lmac_brain.decoder. -> lmac_brain.models.decoder.",
    ) as err:
        LMACInterpreter.from_hparams(source=str(old), savedir=str(tmp_path / "b"))
    assert (old / "hyperparams.yaml").read_text(encoding="utf-8") == text
    command = str(err.value).splitlines()[-1].strip()
    assert command.startswith("sed -i.bak ")
    subprocess.run(["bash", "-c", command], check=True)
    wav = torch.randn(2, 16000) * 0.3
    now = LMACInterpreter.from_hparams(
        source=str(tiny_interpreter_folder), savedir=str(tmp_path / "a")
    ).interpret_batch(wav)
    fixed = LMACInterpreter.from_hparams(source=str(old), savedir=str(tmp_path / "b")).interpret_batch(wav)
    assert torch.equal(now.mask, fixed.mask) and torch.equal(now.probs, fixed.probs)


def test_folders_naming_removed_decoder_options_are_refused_with_the_fix(tiny_interpreter_folder, tmp_path):
    """Folders exported before early_channels and class_features were removed name them in the decoder's entry.
    Where they hold what the decoder now always does, the error names the file and gives the command that deletes
    them; after it, the folder explains as a current export. Other values: a decoder this version cannot build."""
    import shutil
    import subprocess

    from lmac_brain.interface.folder_checks import ModelFolderError, check_removed_options
    from lmac_brain.interface.interpreter import LMACInterpreter

    old = tmp_path / "old"
    shutil.copytree(tiny_interpreter_folder, old)
    current = (old / "hyperparams.yaml").read_text(encoding="utf-8")
    assert "early_channels" not in current and "class_features" not in current  # what export writes now
    text = current.replace("    coarse_blocks:", "    early_channels: 0\n    coarse_blocks:")
    text = text.replace("    time_gate:", "    class_features: true\n    time_gate:")  # unconditional: it did nothing
    assert text.count("early_channels: 0") == text.count("class_features: true") == 1
    (old / "hyperparams.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(
        ModelFolderError, match=r"hyperparams.yaml: names decoder options .*\(early_channels: 0, class_features: true\)"
    ) as err:
        LMACInterpreter.from_hparams(source=str(old), savedir=str(tmp_path / "b"))
    assert (old / "hyperparams.yaml").read_text(encoding="utf-8") == text
    command = str(err.value).splitlines()[-1].strip()
    assert command.startswith("sed -i.bak -E ")
    subprocess.run(["bash", "-c", command], check=True)
    assert (old / "hyperparams.yaml").read_text(encoding="utf-8") == current
    wav = torch.randn(2, 16000) * 0.3
    now = LMACInterpreter.from_hparams(
        source=str(tiny_interpreter_folder), savedir=str(tmp_path / "a")
    ).interpret_batch(wav)
    fixed = LMACInterpreter.from_hparams(source=str(old), savedir=str(tmp_path / "b")).interpret_batch(wav)
    assert torch.equal(now.mask, fixed.mask) and torch.equal(now.probs, fixed.probs)
    for options in ("    conditional: true\n    class_features: true\n", "    early_channels: 4\n"):
        with pytest.raises(ModelFolderError, match="so this version cannot build it"):
            check_removed_options("decoder:\n" + options, "old/hyperparams.yaml")


def test_exported_yaml_comes_from_the_checked_in_templates(tiny_interpreter_folder):
    from lmac_brain.interface.export import TEMPLATES

    text = (tiny_interpreter_folder / "hyperparams.yaml").read_text(encoding="utf-8")
    with open(os.path.join(TEMPLATES, "interpreter.yaml"), encoding="utf-8") as f:
        template_lines = [line for line in f.read().splitlines() if "$" not in line]
    assert all(line in text.splitlines() for line in template_lines)


def test_model_card_command_pastes_back_to_the_same_overrides(tmp_path, repo_root, monkeypatch):
    """The "Produced by" command (shlex-joined) splits back into the same arguments, and the recipe's own
    parsing (speechbrain.parse_arguments, then the real hparams file) gives the same overrides."""
    import shlex

    import speechbrain as sb

    from lmac_brain.interface.export import model_card
    from lmac_brain.recipe.experiment import command_line

    loss_weights = {"w_in": 4.0, "w_out": 1.0, "w_l1": 0.0, "w_tv": 0.0, "w_area": 50.0, "area": 0.25}
    argv = [
        "recipes/ESC50/interpret/train_lmac.py",
        "hparams/lmac_cnn14_cpu.yaml",
        "--data_folder",
        "../my data/esc50",
        "--noise_folder",
        "../shared/data/noise",
        "--loss_weights",
        "{w_in: 4.0, w_out: 1.0, w_l1: 0.0, w_tv: 0.0, w_area: 50.0, area: 0.25}",
        "--target_sampling",
        "{decision: 0.4, top_k: 0.2, k: 5, label: 0.3, random: 0.1}",
        "--budget_train",
        "[0.05, 0.1, 0.2]",
        "--output_folder",
        str(tmp_path / 'it\'s a "run"'),
    ]
    command = command_line(argv)
    card = model_card("T", "D", {"AI": 1.0}, command)
    block = card.split("## Produced by\n\n```bash\n")[1]
    assert block == command + "\n```\n"  # the card holds exactly the quoted command
    pasted = shlex.split(block.split("\n```")[0])
    assert pasted == ["python"] + argv
    with pytest.raises(ValueError, match="No closing quotation"):  # what the unquoted join gave cannot be pasted
        shlex.split(" ".join(["python"] + argv))

    monkeypatch.chdir(repo_root)  # the relative classifier_source of the YAML
    hparams_file, _, overrides = sb.parse_arguments(pasted[2:])
    assert (hparams_file, overrides) == sb.parse_arguments(argv[1:])[::2]
    with open(hparams_file, encoding="utf-8") as f:
        hparams = load_hyperpyyaml(f, overrides)
    assert hparams["loss_weights"] == loss_weights and hparams["budget_train"] == [0.05, 0.1, 0.2]
    assert hparams["target_sampling"] == {"decision": 0.4, "top_k": 0.2, "k": 5, "label": 0.3, "random": 0.1}
    assert hparams["data_folder"] == "../my data/esc50" and hparams["output_folder"] == str(tmp_path / 'it\'s a "run"')
