"""Fixtures shared by the doctests of ``lmac_brain`` and the tests in ``tests/``."""

from pathlib import Path

import pytest
import torch

# The tensors of the in-process tests and doctests are tiny: a second intra-op thread only adds
# synchronisation (the fast tests took 48 s with two threads, 36 s with one, on 2 cores). Recipe
# subprocesses are not affected: they use torch's default.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_interpreter_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported interpreter (untrained, width-1/16 CNN14, classes ``dog`` and ``rain``)."""
    from lmac_brain.explain.lmac import LMAC
    from lmac_brain.interface.export import export_interpreter
    from lmac_brain.models.classifier import AudioClassifier, Cnn14
    from lmac_brain.models.decoder import LMACDecoder, rep_channels
    from lmac_brain.models.frontend import Frontend

    tmp = tmp_path_factory.mktemp("tiny_interpreter")
    enc = tmp / "label_encoder.txt"
    enc.write_text("'dog' => 0\n'rain' => 1\n================\n'starting_index' => 0\n", "utf-8")
    gen = torch.random.get_rng_state()
    torch.manual_seed(0)
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    lmac = LMAC(
        Frontend(),
        AudioClassifier(emb, torch.nn.Linear(16, 2)),
        LMACDecoder(rep_channels(emb), hidden=4, out_channels=2),
    )
    torch.random.set_rng_state(gen)
    return Path(export_interpreter(str(tmp / "interp"), lmac, str(enc), {}, "# tiny test interpreter"))


@pytest.fixture
def tiny_lmac():
    """An untrained L-MAC (width-1/16 CNN14, 3 classes, small decoder), seeded, in eval mode."""
    from lmac_brain.explain.lmac import LMAC
    from lmac_brain.models.classifier import AudioClassifier, Cnn14
    from lmac_brain.models.decoder import LMACDecoder, rep_channels
    from lmac_brain.models.frontend import Frontend

    gen = torch.random.get_rng_state()
    torch.manual_seed(0)
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    lmac = LMAC(
        Frontend(),
        AudioClassifier(emb, torch.nn.Linear(16, 3)),
        LMACDecoder(rep_channels(emb), hidden=4, out_channels=2),
    )
    torch.random.set_rng_state(gen)
    return lmac.eval()


@pytest.fixture
def tiny_interpreter(tiny_interpreter_folder: Path, tmp_path: Path):
    """:class:`~lmac_brain.interface.interpreter.LMACInterpreter` loaded from :func:`tiny_interpreter_folder`."""
    from lmac_brain.interface.interpreter import LMACInterpreter

    return LMACInterpreter.from_hparams(source=str(tiny_interpreter_folder), savedir=str(tmp_path / "cache"))
