"""The L-MAC configs are one base and its variants (``base:``, :mod:`lmac_brain.recipe.variants`): every
variant has the base's keys (an FT stage adds its guidance keys, the config for your own data swaps the data
keys), the method's configs build the shipped decoder's kind, and the FT stages take any option of the stage
they continue (a key missing from a config makes its override fail: "override coarse_blocks not found")."""

from pathlib import Path

import pytest
import ruamel.yaml
from hyperpyyaml import resolve_references

from lmac_brain.recipe.variants import config_text

REPO = Path(__file__).resolve().parents[1]
HPARAMS = REPO / "hparams"
BASE = "lmac_cnn14_cpu.yaml"
#: keys only the FT stage has (its guidance term)
FT_ONLY = {"ft_gate_threshold", "ft_oracle_threshold"}
#: the data keys of ESC-50's folds and of your own data's split
ESC50_ONLY = {"data_folder", "download", "train_folds"}
CUSTOM_ONLY = {"dataset", "split_ratios", "split_seed"}
#: the method's configs (the paper's decoder has its own two)
METHOD = ["lmac_cnn14_cpu.yaml", "lmac_ft_cnn14_cpu.yaml", "lmac_custom_cpu.yaml", "lmac_ft_custom_cpu.yaml"]
METHOD += ["lmac_cnn14.yaml", "lmac_ft_cnn14.yaml"]
PAPER = ["lmac_paper_cnn14_cpu.yaml", "lmac_paper_ft_cnn14_cpu.yaml", "lmac_paper_cnn14.yaml"]
#: the method on a SpeechBrain EncoderClassifier (its FrameDecoder: no time gate, always class-conditional)
ENCODER = ["lmac_ecapa_cpu.yaml", "lmac_ecapa_custom_cpu.yaml"]
#: CNN14 keys the encoder config has no use for, and what it adds
CNN14_ONLY = {"n_mels", "embedding_model", "head", "logit_scale", "time_gate", "spec_gain", "conditional"}
DECODER_KEYS = ("conditional", "class_code", "time_gate", "fine_channels", "coarse_blocks", "spec_gain")


def _resolved(name: str) -> dict:
    """The config as a mapping with every ``!ref`` resolved (objects not built)."""
    text = config_text(str(HPARAMS / name))
    placeholders = {key: "x" for key, value in ruamel.yaml.YAML().load(text).items() if _is_placeholder(value)}
    return ruamel.yaml.YAML().load(resolve_references(text, placeholders).getvalue())


def _is_placeholder(value) -> bool:
    return getattr(getattr(value, "tag", None), "value", None) == "!PLACEHOLDER"


def test_every_lmac_config_is_the_base_or_a_variant_of_it():
    names = sorted(p.name for p in HPARAMS.glob("lmac_*.yaml"))
    assert names == sorted(METHOD + PAPER + ENCODER)
    for name in names:
        first = next(iter(ruamel.yaml.YAML().load((HPARAMS / name).read_text(encoding="utf-8"))))
        assert (name == BASE) == (first != "base"), name


@pytest.mark.parametrize("name", METHOD + PAPER)
def test_variants_have_the_base_keys(name):
    base, config = set(_resolved(BASE)), set(_resolved(name))
    expected = set(base)
    if "_ft_" in name:
        expected |= FT_ONLY
    if "custom" in name:
        expected = expected - ESC50_ONLY | CUSTOM_ONLY
    if "paper" in name:
        expected.add("lr_annealing")  # the paper's plateau schedule instead of the phases
    assert config == expected, (sorted(config - expected), sorted(expected - config))


@pytest.mark.parametrize("name", METHOD)
def test_the_method_configs_build_the_shipped_decoder(name):
    folder = ruamel.yaml.YAML().load((REPO / "pretrained/lmac_cnn14_cpu_esc50/hyperparams.yaml").read_text("utf-8"))
    config = _resolved(name)
    for key in DECODER_KEYS:
        assert config["decoder"][key] == folder["decoder"][key], key
    assert config["rank_power"] == folder["lmac"]["rank_power"]
    assert config["schedule"] and config["budget_weight"] > 0


def test_the_paper_configs_build_the_paper_decoder():
    for name in PAPER:
        config = _resolved(name)
        assert [config["decoder"][k] for k in DECODER_KEYS] == [False, 0, False, 0, 0, True]
        assert config["schedule"] is None and config["budget_weight"] == 0 and config["rank_power"] is None


def test_the_encoder_config_is_the_method_on_a_frame_level_encoder():
    base, config = _resolved(BASE), _resolved("lmac_ecapa_cpu.yaml")
    assert set(config) == set(base) - CNN14_ONLY | {"encoder"}
    for key in ("fine_channels", "coarse_blocks", "class_code", "rank_power", "budget_weight", "budget_w_del"):
        assert config[key] == base[key], key
    assert [p.get("epochs") for p in config["schedule"]["phases"]] == [8, 16, 8, 24, 12]
    assert all(
        "time_gate" not in p.get("parts_off", []) and "gate_slope" not in p for p in config["schedule"]["phases"]
    )


def test_the_encoder_config_for_your_data_swaps_only_the_data_keys():
    encoder, custom = _resolved("lmac_ecapa_cpu.yaml"), _resolved("lmac_ecapa_custom_cpu.yaml")
    assert set(custom) == set(encoder) - ESC50_ONLY | CUSTOM_ONLY
    assert custom["epoch_scale"] == _resolved("lmac_custom_cpu.yaml")["epoch_scale"]
    assert custom["schedule"]["phases"] == encoder["schedule"]["phases"] and custom["classifier_source"].startswith(
        "results/finetune_encoder_cpu/"
    )
