"""Marks on CO2e figures that are less certain than they look, and the legend that explains them.

Two things make a CO2e figure weaker, and both are in the run's document (``docs/documents.md``):
- ``intensity_fallback``: the run's region is not in the intensity table, so its energy was
  priced at the world average (a figure that may be off by a factor of ten either way);
- an estimate in ``cpu_methods``, ``gpu_methods`` or ``ram_methods`` (a ``*_model`` method, or
  one that says ``estimate``: ``units.ESTIMATE_PATTERN``): part of the energy was estimated
  from a model (TDP times utilisation, a RAM rule of thumb), not read from a meter.
A total made of several runs carries the marks of any of them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from joulestream.dash_app import units

FALLBACK = "†"
ESTIMATE = "*"
METHOD_FIELDS = ("cpu_methods", "gpu_methods", "ram_methods")
LEGEND = (
    f"{FALLBACK} priced at the world-average intensity: the run's region is not in the "
    f"intensity table. {ESTIMATE} energy partly estimated by a model (no meter for a component)."
)


@dataclass(frozen=True)
class Flags:
    """What weakens a CO2e figure (see the module's docstring)."""

    fallback: bool = False
    estimate: bool = False

    def __or__(self, other: "Flags") -> "Flags":
        return Flags(self.fallback or other.fallback, self.estimate or other.estimate)

    @property
    def mark(self) -> str:
        """``"†"``, ``"*"``, ``"†*"`` or ``""``."""
        return (FALLBACK if self.fallback else "") + (ESTIMATE if self.estimate else "")


NONE = Flags()


def of_run(run: Mapping[str, Any]) -> Flags:
    """The flags of one run's document (fields missing: not flagged)."""
    estimate = any(
        units.is_estimate(str(name)) for field in METHOD_FIELDS for name in run.get(field) or []
    )
    return Flags(bool(run.get("intensity_fallback")), estimate)


def of_runs(runs: Iterable[Mapping[str, Any]]) -> Flags:
    """The flags of a total made of ``runs``."""
    flags = NONE
    for run in runs:
        flags |= of_run(run)
    return flags


def marked(text: str, flags: Flags) -> str:
    """``"2.29 g CO2e"`` → ``"2.29 g CO2e †"``; unchanged without flags."""
    return f"{text} {flags.mark}" if flags.mark else text
