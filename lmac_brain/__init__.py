"""lmac_brain: L-MAC (Listenable Maps for Audio Classifiers) as a SpeechBrain recipe extension.

The sub-packages are layers; a module imports only from its own layer or the ones below it
(``tests/test_layers.py`` checks it):

1. ``atomic`` (safe file writes), then ``data`` (audio in) and ``models`` (front end, classifier, decoder);
2. ``explain``: L-MAC, its objective and budget masks, and the other explainers;
3. ``evaluation``: metrics, matched-budget curves, evaluation sets;
4. ``training``: the SpeechBrain Brains and what they need to train and resume;
5. ``interface``: the interpreter, exported folders, the ``lmac`` command;
6. ``recipe``: what the recipes wire (start-up, manifests, the training runs and their exports).
"""

__version__ = "0.1.0"
