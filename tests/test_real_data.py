"""Checks on the real ESC-50 copy in ../shared/data; skipped with the reason when it is absent."""

from pathlib import Path

import pytest
import soundfile as sf

from lmac_brain.data.esc50 import prepare_esc50

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ESC50 = SHARED / "esc50-16k"


@pytest.fixture
def esc50():
    if not (ESC50 / "meta" / "esc50.csv").is_file():
        pytest.skip(f"real ESC-50 not found at {ESC50} (only on machines with ../shared/data)")
    return ESC50


def test_prepare_real_esc50_protocol(esc50, tmp_path):
    manifests = prepare_esc50(esc50, tmp_path, download=False)
    counts = {split: len(Path(path).read_text(encoding="utf-8").splitlines()) - 1 for split, path in manifests.items()}
    assert counts == {"train": 1200, "valid": 400, "test": 400}
    first = Path(manifests["test"]).read_text(encoding="utf-8").splitlines()[1].split(",")
    assert first[0].startswith("5-") and sf.info(first[2]).samplerate == 16000
