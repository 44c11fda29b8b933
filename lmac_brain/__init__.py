"""lmac_brain: L-MAC (Listenable Maps for Audio Classifiers) as a SpeechBrain recipe extension.

The sub-packages follow the pipeline: ``data`` (audio in) -> ``models`` (front end, classifier, decoder) ->
``explain`` (L-MAC and the other explainers) -> ``training`` -> ``evaluation`` -> ``interface``
(interpreter, exported folders, ``lmac`` command).
"""

from lmac_brain import legacy

__version__ = "0.1.0"

legacy.install()
