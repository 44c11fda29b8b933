"""A non-editable install (``pip install .``) carries the shipped model, and ``lmac explain`` defaults to it.

The wheel is built offline from a copy of the files ``setup.py`` packages (no build isolation, no
index), unpacked (what pip does for a pure-Python wheel) and used from a subprocess in which the
checkout is not importable.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from limits import HANG_S

from lmac_brain.interface.folder_checks import referenced_files

pytestmark = pytest.mark.slow  # builds and installs a wheel

SHIPPED = "lmac_cnn14_cpu_esc50"


def _build_wheel(repo_root: Path, tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(repo_root / "setup.py", src)
    shutil.copy(repo_root / "README.md", src)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(repo_root / "lmac_brain", src / "lmac_brain", ignore=ignore)
    shutil.copytree(repo_root / "pretrained", src / "pretrained", ignore=ignore)
    dist = tmp_path / "dist"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-q",
        "-w",
        str(dist),
        str(src),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_S)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = dist.glob("lmac_brain-*.whl")
    return wheel


def test_wheel_carries_the_shipped_model_and_the_cli_defaults_to_it(repo_root, tmp_path):
    wheel = _build_wheel(repo_root, tmp_path)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode("utf-8")
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode("utf-8")
    hparams = (repo_root / "pretrained" / SHIPPED / "hyperparams.yaml").read_text(encoding="utf-8")
    needed = ["hyperparams.yaml"] + referenced_files(hparams)
    assert {"embedding_model.ckpt", "classifier.ckpt", "decoder.ckpt", "label_encoder.txt"} <= set(needed)
    assert {f"lmac_brain/pretrained/{SHIPPED}/{n}" for n in needed} <= names
    templates = {f"lmac_brain/interface/templates/{n}.yaml" for n in ("model", "classifier", "interpreter")}
    assert templates <= names  # exporting from an installed copy needs them
    assert "lmac = lmac_brain.interface.cli:main" in entry_points
    captum = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: captum")]
    assert captum and all("extra ==" in line for line in captum)  # an extra, not a requirement

    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    sf.write(str(tmp_path / "clip.wav"), np.random.default_rng(0).standard_normal(16000) * 0.1, 16000)
    script = (
        "import lmac_brain.interface.cli as cli\n"
        "print('module:', cli.__file__)\n"
        "print('default:', cli.DEFAULT_SOURCE)\n"
        f"assert cli.main(['explain', {str(tmp_path / 'clip.wav')!r}, '--out', {str(tmp_path / 'out')!r}, "
        "'--no-report']) == 0\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "HOME": str(tmp_path), "PYTHONNOUSERSITE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=HANG_S
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        f"module: {site / 'lmac_brain' / 'interface' / 'cli.py'}" in result.stdout
    )  # the installed copy, not the checkout
    assert f"default: {site / 'lmac_brain' / 'pretrained' / SHIPPED}" in result.stdout
    assert (tmp_path / "out" / "clip_interpretation.wav").is_file()
