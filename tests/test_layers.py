"""The sub-packages of ``lmac_brain`` are layers, and imports only point down (or within a layer).

The order is the one in ``lmac_brain/__init__.py`` and README's Layout section. Every import statement of
every module counts, those inside functions too (a lazy import is still a dependency); the examples in
docstrings do not (they are strings).
"""

import ast
from pathlib import Path

import pytest

import lmac_brain

#: sub-package (or top-level module) -> layer; a module may import from its own layer and those below.
LAYERS = {
    "atomic": 0,
    "data": 1,
    "models": 1,
    "explain": 2,
    "evaluation": 3,
    "training": 4,
    "interface": 5,
    "recipe": 6,
}

PACKAGE = Path(lmac_brain.__file__).parent


def _part(module: str) -> str:
    """``lmac_brain.explain.lmac`` -> ``explain``; ``lmac_brain`` itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imported_modules(source: str, module: str) -> list:
    """The ``lmac_brain`` modules that ``source`` (the text of ``module``) imports, relative imports resolved."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from ..y import z
                base = module.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.append(name)
            found += [f"{name}.{alias.name}" for alias in node.names]  # from lmac_brain import data
    return [name for name in found if name == "lmac_brain" or name.startswith("lmac_brain.")]


def upward_imports(source: str, module: str) -> list:
    """``(imported module, its layer)`` for each import of ``source`` from a layer above ``module``'s."""
    own = LAYERS[_part(module)]
    return [
        (name, LAYERS[_part(name)])
        for name in imported_modules(source, module)
        if _part(name) in LAYERS and LAYERS[_part(name)] > own
    ]


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts[:-1]) if rel.name == "__init__" else list(rel.parts)
        yield ".".join(parts), path


def test_every_sub_package_has_a_layer():
    parts = {_part(module) for module, _ in _modules()} - {""}
    assert parts <= set(LAYERS), f"sub-packages without a layer in tests/test_layers.py: {sorted(parts - set(LAYERS))}"


@pytest.mark.parametrize("module,path", [pytest.param(m, p, id=m) for m, p in _modules() if _part(m)])
def test_module_imports_only_from_its_layer_or_below(module, path):
    up = upward_imports(path.read_text(encoding="utf-8"), module)
    assert not up, f"{module} (layer {LAYERS[_part(module)]}, {_part(module)}) imports from higher layers: {up}"


def test_the_check_catches_an_upward_import():
    """The check itself: an import from a higher layer (plain, from-import, relative, inside a function)
    is found; imports from the same layer or below, and docstring examples, are not."""
    source = '''
"""Example
>>> from lmac_brain.interface.cli import main
"""
import torch
from lmac_brain.models.decoder import LMACDecoder
from lmac_brain.explain import lmac
from . import budget_masks
from ..evaluation.budget import BUDGETS
import lmac_brain.training.brain

def later():
    from lmac_brain.interface.export import export_interpreter
'''
    up = upward_imports(source, "lmac_brain.explain.objective")
    assert [name for name, _ in up] == [
        "lmac_brain.evaluation.budget",
        "lmac_brain.evaluation.budget.BUDGETS",
        "lmac_brain.training.brain",
        "lmac_brain.interface.export",
        "lmac_brain.interface.export.export_interpreter",
    ]
