"""Installation script for ``lmac_brain``: L-MAC (Listenable Maps for Audio Classifiers) on SpeechBrain."""

from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="lmac_brain",
    version="0.1.0",
    description=(
        "L-MAC: Listenable Maps for Audio Classifiers, as a SpeechBrain recipe "
        "extension (CNN14 classifier, decoder, metrics, recipes)."
    ),
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # The shipped interpreter (pretrained/lmac_cnn14_cpu_esc50, about 19 MB) goes into the wheel as
    # lmac_brain/pretrained/..., so that `lmac explain` has its default model after `pip install .`
    # (lmac_brain.interface.cli.DEFAULT_SOURCE); in a checkout it stays in the repository's pretrained/ folder.
    packages=find_packages(include=["lmac_brain", "lmac_brain.*"]) + ["lmac_brain.pretrained"],
    package_dir={"lmac_brain.pretrained": "pretrained"},
    package_data={
        "lmac_brain.pretrained": ["lmac_cnn14_cpu_esc50/*"],
        "lmac_brain.interface": ["templates/*.yaml"],  # the hyperparams.yaml templates of exported folders
    },
    install_requires=[
        # speechbrain 1.1.2 does not import without torchaudio; this triple is
        # the combination measured to install and import on a fresh CPU machine.
        "torch>=2.9,<=2.14.1",
        "torchaudio>=2.9,<2.12",
        "speechbrain==1.1.2",
        "hyperpyyaml>=1.2",
        "ruamel.yaml>=0.17",  # config variants (lmac_brain.recipe.variants) keep the YAML tags on a round trip
        "soundfile>=0.12",
        "numpy>=1.24",
        "tqdm>=4.60",
        "matplotlib>=3.7",
        "librosa>=0.10",  # the figures' spectrograms (librosa.display.specshow, log-frequency axis in Hz)
    ],
    entry_points={"console_scripts": ["lmac = lmac_brain.interface.cli:main"]},
    extras_require={
        # Captum computes the attribution baselines of the evaluation (lmac_brain.explain.baselines,
        # recipes/ESC50/interpret/eval.py); explaining with L-MAC (lmac explain) does not need it.
        "eval": ["captum>=0.7"],
        # selenium drives Debian's chromium in the report test; Quantus's Pixel-Flipping cross-checks the
        # matched-budget curves (tests/test_quantus_crosscheck.py)
        # ruff: the formatter and linter that .ci/run checks before the tests (pinned: formatting is per version)
        "test": ["captum>=0.7", "pytest>=7", "selenium>=4.10", "quantus>=0.6,<0.7", "ruff==0.17.6"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Analysis",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
