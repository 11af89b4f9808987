"""What every reader of grid data shares: UTC times, and problems kept as data.

A reader returns the events it could build and a ``Problem`` for each entry it could not
(where it is and why), so one bad hour is reported without losing the others. A document that
is not of the expected shape at all raises ``SourceFormatError``.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from joulestream.grid.events import GridIntensity

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SourceFormatError(ValueError):
    """The document is not what the reader expects (not JSON of that source, a required part
    missing, a unit it does not convert): nothing can be read from it."""


@dataclass(frozen=True)
class Problem:
    """One entry that did not become an event."""

    where: str
    """Where it is: a line number or a JSON path, e.g. ``history[3]``."""
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class Parsed:
    """What a reader made of a document."""

    events: list[GridIntensity] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def add(self, where: str, build: Callable[[], GridIntensity]) -> None:
        """Append ``build()``'s event, or the problem its ``ValueError`` names."""
        try:
            self.events.append(build())
        except (ValueError, TypeError) as exc:
            self.problems.append(Problem(where, str(exc)))


def utc_ms(value: object, name: str) -> int:
    """UTC epoch milliseconds from an ISO 8601 time with its offset ('2024-03-05T20:00:00.000Z',
    '2018-01-20T12:00Z', '...+01:00') or from an integer count of milliseconds. A time without
    an offset is refused: it would be read in some host's local time."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be an ISO 8601 time or epoch milliseconds, got {value!r}")
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if text[-1:] in ("Z", "z"):
        # Python 3.10's fromisoformat reads offsets, not the "Z" designator.
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no UTC offset (add 'Z' or '+00:00')")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def number(value: object, name: str) -> float:
    """A JSON or CSV number as a float; ``ValueError`` for anything else (null included)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if math.isfinite(parsed):
            return parsed
    raise ValueError(f"{name} must be a finite number, got {value!r}")


def as_object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SourceFormatError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def as_list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SourceFormatError(f"{where}: expected a JSON array, got {type(value).__name__}")
    return value
