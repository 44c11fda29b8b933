"""Module paths of lmac_brain before it had sub-packages, so that folders exported by those versions load.

An exported folder's ``hyperparams.yaml`` names classes by module path (``!new:lmac_brain.decoder.LMACDecoder``).
Those paths moved into sub-packages (``lmac_brain.models.decoder``); this finder answers an import of an
old path with the module at its new home (the same module object, not a copy), so an old folder loads
and behaves as before. Only the modules an exported folder can name are listed.

Example
-------
>>> import importlib
>>> importlib.import_module("lmac_brain.decoder") is importlib.import_module("lmac_brain.models.decoder")
True
"""

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType
from typing import Optional, Sequence

#: Old module path -> its home since the sub-packages.
MOVED_MODULES = {
    "lmac_brain.frontend": "lmac_brain.models.frontend",
    "lmac_brain.classifier": "lmac_brain.models.classifier",
    "lmac_brain.decoder": "lmac_brain.models.decoder",
    "lmac_brain.lmac": "lmac_brain.explain.lmac",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: ``import lmac_brain.decoder`` returns ``lmac_brain.models.decoder``."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Optional[ModuleType] = None):
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec) -> ModuleType:
        return importlib.import_module(MOVED_MODULES[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module at the new home is already imported."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` once (``lmac_brain/__init__.py`` calls it)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
