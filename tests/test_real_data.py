"""Checks on the real ESC-50 copy in ../shared/data; skipped with the reason when it is absent (failed where
``LMAC_REQUIRE_DATA=1``, as in CI: see the ``real_data`` fixture)."""

from pathlib import Path

import pytest
import soundfile as sf

from lmac_brain.data.esc50 import prepare_esc50

pytestmark = pytest.mark.slow  # real data


@pytest.fixture
def esc50(real_data):
    return real_data("esc50-16k", "meta", "esc50.csv").parents[1]


def test_prepare_real_esc50_protocol(esc50, tmp_path):
    manifests = prepare_esc50(esc50, tmp_path, download=False)
    counts = {split: len(Path(path).read_text(encoding="utf-8").splitlines()) - 1 for split, path in manifests.items()}
    assert counts == {"train": 1200, "valid": 400, "test": 400}
    first = Path(manifests["test"]).read_text(encoding="utf-8").splitlines()[1].split(",")
    assert first[0].startswith("5-") and sf.info(first[2]).samplerate == 16000
