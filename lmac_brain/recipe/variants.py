"""Config variants: a YAML file that names a ``base:`` config and only the keys it changes.

The L-MAC configs share one base (``hparams/lmac_cnn14_cpu.yaml``, the shipped method): the paper's
decoder, the FT stage, your own data and the paper-scale classifier are variants of it, so that changing
the method is one edit and no config drifts from another. A variant is a hyperpyyaml file whose first key
is ``base:`` (a path relative to the variant); an optional ``drop:`` lists base keys the variant does not
have (e.g. ESC-50's folds in the config for your own data); each of its other top-level keys replaces
the base's key of that name, or adds one. Variants of variants are allowed. Command-line overrides then apply to the
result as to any hyperpyyaml file (:func:`~lmac_brain.recipe.experiment.start_experiment`).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import io
import os
from typing import List, Optional

import ruamel.yaml


def _yaml() -> ruamel.yaml.YAML:
    yaml = ruamel.yaml.YAML()  # round trip: tags (!new:, !ref, !apply:, !PLACEHOLDER) and comments kept
    yaml.width = 4096
    return yaml


def config_text(path: str, _seen: Optional[List[str]] = None) -> str:
    """The hyperpyyaml text of the config ``path``: the file itself, or, for a variant, its base's text
    with the variant's top-level keys in place of the base's.

    Arguments
    ---------
    path : str
        A hyperpyyaml file, or a variant (first key ``base:``, a path relative to the variant's folder).

    Returns
    -------
    str
        Text for ``hyperpyyaml.load_hyperpyyaml``.

    Raises
    ------
    ValueError
        If a variant's base does not exist, the bases form a cycle, or ``drop`` names a key the base lacks.

    Example
    -------
    >>> tmp = getfixture("tmp_path")
    >>> _ = (tmp / "base.yaml").write_text("lr: 0.001\\nepochs: 4\\nopt: !name:torch.optim.Adam\\n    lr: !ref <lr>\\n")
    >>> _ = (tmp / "paper.yaml").write_text("base: base.yaml\\ndrop: [epochs]\\n# a comment\\nlr: 0.01\\nseed: 1\\n")
    >>> from hyperpyyaml import load_hyperpyyaml
    >>> hp = load_hyperpyyaml(config_text(str(tmp / "paper.yaml")), {"seed": 2})
    >>> hp["lr"], "epochs" in hp, hp["seed"], hp["opt"].keywords
    (0.01, False, 2, {'lr': 0.01})
    """
    seen = list(_seen or [])
    real = os.path.realpath(path)
    if real in seen:
        raise ValueError(f"config {path}: its bases form a cycle ({' -> '.join(seen + [real])}).")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    yaml = _yaml()
    variant = yaml.load(text)
    if not isinstance(variant, dict) or not variant or next(iter(variant)) != "base":
        return text
    base_path = os.path.join(os.path.dirname(path), str(variant["base"]))
    if not os.path.isfile(base_path):
        raise ValueError(
            f"config {path} is a variant of {variant['base']!r}, which does not exist ({base_path}); "
            "base: is a path relative to the variant's folder."
        )
    merged = yaml.load(config_text(base_path, seen + [real]))
    for key in variant.get("drop", []):
        if key not in merged:
            raise ValueError(f"config {path} drops {key!r}, which its base {base_path} does not have.")
        del merged[key]
    for key, value in variant.items():
        if key not in ("base", "drop"):
            merged[key] = value
    out = io.StringIO()
    yaml.dump(merged, out)
    return out.getvalue()
