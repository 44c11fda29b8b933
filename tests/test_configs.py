"""The FT configs take every option of the L-MAC config they continue, so the FT stage runs on any decoder
that stage trains (a key missing from the FT config makes its override fail: "override coarse_blocks not
found")."""

import re
from pathlib import Path

import pytest

HPARAMS = Path(__file__).resolve().parents[1] / "hparams"

#: (L-MAC stage config, its FT stage config)
PAIRS = [
    ("lmac_cnn14_cpu.yaml", "lmac_ft_cnn14_cpu.yaml"),
    ("lmac_custom_cpu.yaml", "lmac_ft_custom_cpu.yaml"),
    ("lmac_cnn14.yaml", "lmac_ft_cnn14.yaml"),
]
#: keys only the FT stage has (its guidance term)
FT_ONLY = {"ft_gate_threshold", "ft_oracle_threshold"}


def _keys(name: str) -> set:
    return set(re.findall(r"^([A-Za-z_]\w*):", (HPARAMS / name).read_text(encoding="utf-8"), re.M))


def _decoder_args(name: str) -> list:
    text = (HPARAMS / name).read_text(encoding="utf-8")
    block = re.search(r"^decoder: !new:\S+\n((?:    .*\n)+)", text, re.M).group(1)
    return re.findall(r"^    (\w+):", block, re.M)


@pytest.mark.parametrize("lmac,ft", PAIRS)
def test_ft_config_takes_every_option_of_its_lmac_config(lmac, ft):
    assert _keys(lmac) == _keys(ft) - FT_ONLY, (sorted(_keys(lmac) - _keys(ft)), sorted(_keys(ft) - _keys(lmac)))
    assert _decoder_args(lmac) == _decoder_args(ft)
