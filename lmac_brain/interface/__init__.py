"""What a user touches: the ``LMACInterpreter``, exported folders (writing and checking them), the ``lmac``
command and its HTML listening page."""

from lmac_brain.interface.interpreter import LMACInterpreter

__all__ = ["LMACInterpreter"]
