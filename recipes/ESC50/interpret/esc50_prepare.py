"""ESC-50 data preparation for the L-MAC recipes.

A thin wrapper so that the recipe scripts can ``from esc50_prepare import prepare_esc50`` as in
other SpeechBrain recipes; the implementation lives in :mod:`lmac_brain.data.esc50`. It writes the
train/valid/test CSV manifests into the experiment folder (never into the dataset folder).

Authors
 * lmac_brain contributors 2026
"""

from lmac_brain.data.esc50 import prepare_esc50  # noqa: F401
