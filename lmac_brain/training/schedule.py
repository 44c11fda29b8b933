"""A training schedule: the phases of one L-MAC run, declared in the YAML and run in order.

The shipped decoder's recipe is one run whose objective and learning rate change with the epoch: a
warm-up on an easier objective, the matched-budget objective at a higher learning rate, then a lower one
with the time gate held sharp (``hparams/lmac_cnn14_cpu.yaml``). Each phase names how many epochs it
lasts and the options it sets; an option a phase does not name keeps the config's top-level value.
The phase of an epoch is a function of the epoch alone, so a run killed in any phase resumes in it.

Options a phase may set (:data:`PHASE_OPTIONS`):

* ``lr``: the learning rate of the phase's epochs (constant within the phase);
* ``budget_weight``, ``budget_w_del``, ``budget_train``, ``target_sampling``: the objective
  (:class:`~lmac_brain.training.brain.LMACBrain`);
* ``event_mix_share``: the share of training clips mixed over another clip
  (:class:`~lmac_brain.data.event_mix.EventMixer`);
* ``gate_slope``: the time gate's slope ``a`` is set to this value and the gate ``(a, b)`` is held
  there for the phase (``b`` as trained before it): training otherwise softens the gate, and the
  pointing with it (``docs/experiments.md``, runs c31-c36);
* ``parts_off``: optional decoder parts (of ``time_gate``, ``fine_channels``, ``coarse_blocks``) the
  phase trains without (:meth:`~lmac_brain.models.decoder.LMACDecoder.use_parts`): the decoder learns its
  masks without them first, then they join (they start as the identity or at zero weight). A part, once
  on, stays on, and the last phase uses every part (the exported decoder does).

Authors
 * lmac_brain contributors 2026
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence

from lmac_brain.models.decoder import PARTS

PHASE_OPTIONS = (
    "lr",
    "budget_weight",
    "budget_w_del",
    "budget_train",
    "target_sampling",
    "event_mix_share",
    "gate_slope",
    "parts_off",
)
"""The options a phase may set; ``epochs`` is required."""


class Schedule:
    """The phases of a training run, in order.

    Arguments
    ---------
    phases : sequence of dict
        Each with ``epochs`` (a positive integer) and any of :data:`PHASE_OPTIONS`.

    Raises
    ------
    ValueError
        If there is no phase, a phase has no positive integer ``epochs``, names an unknown option, sets
        ``gate_slope`` or ``event_mix_share`` out of range, or ``parts_off`` names an unknown part, turns a
        part off again, appears in the last phase, or leaves out the time gate that the phase's
        ``gate_slope`` holds.

    Example
    -------
    >>> s = Schedule([{"epochs": 2, "lr": 1e-3, "budget_weight": 1.0}, {"epochs": 3, "lr": 1e-4, "gate_slope": 1.25}])
    >>> s.total_epochs, s.phase(1), s.phase(2), s.phase(3), s.phase(9)
    (5, 1, 1, 2, 2)
    >>> s.settings(3, {"lr": 5e-4, "budget_weight": 4.0})
    {'lr': 0.0001, 'budget_weight': 4.0, 'gate_slope': 1.25, 'parts_off': []}
    >>> Schedule([{"epochs": 2, "learning_rate": 1e-3}])
    Traceback (most recent call last):
    ...
    ValueError: schedule phase 1 sets 'learning_rate', which a phase cannot set; a phase sets epochs and any of lr, ...
    """

    def __init__(self, phases: Sequence[Mapping[str, Any]]) -> None:
        if not phases:
            raise ValueError("schedule has no phase: give at least one, e.g. [{epochs: 10}].")
        self.phases: List[Dict[str, Any]] = []
        for i, phase in enumerate(phases, start=1):
            phase = dict(phase)
            epochs = phase.pop("epochs", None)
            if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
                raise ValueError(f"schedule phase {i} needs 'epochs', a positive integer; got {epochs!r}.")
            for key in phase:
                if key not in PHASE_OPTIONS:
                    raise ValueError(
                        f"schedule phase {i} sets {key!r}, which a phase cannot set; a phase sets epochs and any of "
                        f"{', '.join(PHASE_OPTIONS)}."
                    )
            slope = phase.get("gate_slope")
            if slope is not None and not (math.isfinite(float(slope)) and float(slope) >= 0):
                raise ValueError(f"schedule phase {i}: gate_slope is the time gate's slope, >= 0; got {slope!r}.")
            share = phase.get("event_mix_share")
            if share is not None and not 0.0 <= float(share) <= 1.0:
                raise ValueError(f"schedule phase {i}: event_mix_share is a share in [0, 1]; got {share!r}.")
            self.phases.append(dict(phase, epochs=epochs))
        self._check_parts()

    def _check_parts(self) -> None:
        turned_on = set()
        for i, phase in enumerate(self.phases, start=1):
            off = phase.get("parts_off", [])
            if isinstance(off, str) or any(name not in PARTS for name in off):
                raise ValueError(f"schedule phase {i}: parts_off is a list of {', '.join(PARTS)}; got {off!r}.")
            if turned_on & set(off):
                raise ValueError(
                    f"schedule phase {i} turns {sorted(turned_on & set(off))} off again: a part, once on, stays on."
                )
            if off and i == len(self.phases):
                raise ValueError(
                    f"schedule phase {i}, the last, sets parts_off {list(off)}: the last phase trains every part "
                    "(the exported decoder uses them all)."
                )
            if "time_gate" in off and phase.get("gate_slope") is not None:
                raise ValueError(f"schedule phase {i} sets gate_slope and leaves the time gate out (parts_off).")
            turned_on |= set(PARTS) - set(off)

    def __len__(self) -> int:
        return len(self.phases)

    @property
    def total_epochs(self) -> int:
        """The number of epochs of all phases together."""
        return sum(p["epochs"] for p in self.phases)

    def phase(self, epoch: int) -> int:
        """The phase (1-based) of ``epoch`` (1-based); epochs after the schedule stay in its last phase."""
        end = 0
        for index, p in enumerate(self.phases, start=1):
            end += p["epochs"]
            if epoch <= end:
                return index
        return len(self.phases)

    def settings(self, epoch: int, defaults: Mapping[str, Any]) -> Dict[str, Any]:
        """The options in force in ``epoch``: ``defaults`` (the config's values of the options a phase may
        set, ``gate_slope`` and ``parts_off`` aside) updated with the phase's own; ``gate_slope`` only where
        the phase sets it; ``parts_off`` always (``[]``: every part).

        >>> s = Schedule([{"epochs": 1, "parts_off": ["time_gate"]}, {"epochs": 1}])
        >>> s.settings(1, {"lr": 1e-3}), s.settings(2, {"lr": 1e-3})
        ({'lr': 0.001, 'parts_off': ['time_gate']}, {'lr': 0.001, 'parts_off': []})
        >>> Schedule([{"epochs": 1}, {"epochs": 1, "parts_off": ["time_gate"]}, {"epochs": 1}])
        Traceback (most recent call last):
        ...
        ValueError: schedule phase 2 turns ['time_gate'] off again: a part, once on, stays on.
        """
        phase = self.phases[self.phase(epoch) - 1]
        out = {key: phase.get(key, value) for key, value in defaults.items()}
        if phase.get("gate_slope") is not None:
            out["gate_slope"] = float(phase["gate_slope"])
        out["parts_off"] = list(phase.get("parts_off", []))
        return out

    def values(self, option: str, default: Any) -> List[Any]:
        """The value of ``option`` in each phase (``default``, the config's value, where a phase does not set it).

        >>> s = Schedule([{"epochs": 1, "event_mix_share": 0.0}, {"epochs": 1}])
        >>> s.values("event_mix_share", 0.3), any(v > 0 for v in s.values("event_mix_share", 0.3))
        ([0.0, 0.3], True)
        """
        return [p.get(option, default) for p in self.phases]


def total_epochs(phases: Sequence[Mapping[str, Any]]) -> int:
    """The number of epochs of a schedule's ``phases`` (the YAML's ``number_of_epochs``).

    >>> total_epochs([{"epochs": 4}, {"epochs": 22}, {"epochs": 8}])
    34
    """
    return Schedule(phases).total_epochs


def scaled(phases: Sequence[Mapping[str, Any]], factor: float) -> List[Dict[str, Any]]:
    """``phases`` with each phase's epochs multiplied by ``factor`` (rounded, at least 1): the same schedule
    for a dataset of another size (``epoch_scale`` in the YAML; ``hparams/lmac_custom_cpu.yaml``).

    Arguments
    ---------
    phases : sequence of dict
        A schedule's phases (:class:`Schedule`).
    factor : float
        A positive factor; 1 returns the phases unchanged.

    Returns
    -------
    list of dict
        The phases, their options unchanged.

    Example
    -------
    >>> [p["epochs"] for p in scaled([{"epochs": 8}, {"epochs": 16, "lr": 1e-3}, {"epochs": 1}], 0.5)]
    [4, 8, 1]
    >>> scaled([{"epochs": 4}], 0)
    Traceback (most recent call last):
    ...
    ValueError: epoch_scale must be a positive number; got 0.
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 0 or math.isinf(factor):
        raise ValueError(f"epoch_scale must be a positive number; got {factor!r}.")
    Schedule(phases)  # the phases are checked before they are scaled
    return [dict(p, epochs=max(1, round(p["epochs"] * factor))) for p in phases]
