"""The job's window and rollup lengths, read from the documents, and their names in texts.

The job's lengths are its settings (``JOULESTREAM_RUN_WINDOW_S``, a minute by default, and
``JOULESTREAM_ROLLUP_S``, an hour), which the dashboard does not share: each ``windows`` document
carries its ``[window_start, window_end)`` and each ``rollups`` document its
``[period_start, period_end)`` (``docs/documents.md``), so the dashboard reads them there and
no text or chart of it assumes a length.
"""

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

Document = dict[str, Any]

# Largest first: a length is named in the largest of these that divides it.
_UNITS = (
    (timedelta(days=1), "day"),
    (timedelta(hours=1), "hour"),
    (timedelta(minutes=1), "minute"),
    (timedelta(seconds=1), "second"),
    (timedelta(milliseconds=1), "millisecond"),
    (timedelta(microseconds=1), "microsecond"),
)
_ONE = {"day": "daily", "hour": "hourly"}


def _lengths(docs: Iterable[Document], start: str, end: str) -> set[timedelta]:
    """The positive lengths of ``docs`` (a document without both bounds, or with an end not
    after its start, says nothing about them)."""
    found = {doc[end] - doc[start] for doc in docs if doc.get(start) and doc.get(end)}
    return {length for length in found if length > timedelta(0)}


def window_length(windows: Iterable[Document]) -> timedelta | None:
    """The length of a run's windows; ``None`` without windows, or when they differ (the job's
    window length changed during the run)."""
    lengths = _lengths(windows, "window_start", "window_end")
    return lengths.pop() if len(lengths) == 1 else None


def period_length(rollups: Iterable[Document]) -> timedelta | None:
    """The longest period of ``rollups`` (all of one length unless the job's rollup length
    changed); ``None`` without rollups."""
    return max(_lengths(rollups, "period_start", "period_end"), default=None)


def _count_and_unit(length: timedelta) -> tuple[int, str]:
    if length <= timedelta(0):
        raise ValueError(f"a window or period must be longer than zero, got {length}")
    # timedelta counts whole microseconds, so the last unit always divides.
    return next((length // size, unit) for size, unit in _UNITS if length % size == timedelta(0))


def name(length: timedelta) -> str:
    """The length as a noun after "per": ``"hour"``, ``"day"``, ``"15 minutes"``,
    ``"90 seconds"``."""
    count, unit = _count_and_unit(length)
    return unit if count == 1 else f"{count} {unit}s"


def adjective(length: timedelta) -> str:
    """The length before a noun: ``"hourly"``, ``"daily"``, ``"1-minute"``, ``"15-minute"``,
    ``"2-hour"``, ``"90-second"``."""
    count, unit = _count_and_unit(length)
    return _ONE[unit] if count == 1 and unit in _ONE else f"{count}-{unit}"
