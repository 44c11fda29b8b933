"""Small class-conditional L-MAC models of every kind, shared by the tests of the decoder's conditioning and
of the interpreter's targets."""

import torch

from lmac_brain.explain.lmac import LMAC
from lmac_brain.models.classifier import AudioClassifier, Cnn14
from lmac_brain.models.decoder import LMACDecoder, rep_channels
from lmac_brain.models.frontend import Frontend

LABELS = "'dog' => 0\n'rain' => 1\n'wind' => 2\n'cow' => 3\n================\n'starting_index' => 0\n"


# The kinds of conditional decoder: a class-code head on features that do not depend on the class; that one
# with a gate over time read off the classifier.
KINDS = {
    "code": {"class_code": 4, "spec_gain": False},
    "time gate": {"class_code": 4, "spec_gain": False, "time_gate": True},
}


def conditional_lmac(conditional=True, seed=0, **kind):
    """A small L-MAC model with a decoder of the ``kind`` given (default: ``KINDS["code"]``, or the paper's
    unconditional decoder with ``conditional=False``)."""
    torch.manual_seed(seed)
    kind = kind or (KINDS["code"] if conditional else {})
    emb = Cnn14(80, 16, 0.0625, return_reps=True)
    decoder = LMACDecoder(rep_channels(emb), hidden=8, out_channels=4, conditional=conditional, **kind)
    for p in decoder.parameters():  # larger weights than the initialisation: masks that differ between classes
        torch.nn.init.normal_(p, std=0.2)
    lmac = LMAC(Frontend(), AudioClassifier(emb, torch.nn.Linear(16, 4)), decoder).eval()
    with torch.no_grad():  # non-default batch-norm statistics
        lmac.classifier.train()(lmac.frontend.features(lmac.analyse(torch.randn(4, 16000))[0]))
    lmac.classifier.eval()
    return lmac
