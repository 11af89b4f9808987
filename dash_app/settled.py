"""The fleet's All time total from the rollups, without the server summing every rollup on each
refresh.

A rollup whose period started long enough ago can no longer change: the job refuses events
older than its largest event age (``JOULESTREAM_MAX_EVENT_AGE_S``, 7 days), so no event can
reach that period any more. All time is the settled rollups' total, summed by the server once
per database and cut-off and kept (the cut-off moves a day at a time), plus the newer rollups'
total, summed here from the documents the Fleet page reads anyway for its charts and its Today
and This week cards (one range read that the stack's FerretDB answers from the
``period_start`` index). Both come from the same ``rollups`` as Today and This week.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pymongo.database import Database

from joulestream.dash_app import data, figures


def cutoff(now: datetime, settled_after_s: int) -> datetime:
    """The start of the UTC day ``settled_after_s`` before ``now``: rollups of periods that
    start before it are settled."""
    back = (now - timedelta(seconds=settled_after_s)).astimezone(UTC)
    return back.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Entry:
    """The settled rollups' totals of one database, up to ``cutoff``."""

    cutoff: datetime
    energy_j: float
    co2e_g: float


class SettledTotals:
    """The settled rollups' (energy_j, co2e_g) of each database, for the latest cut-off: another
    cut-off (a day later, or another ``DASH_SETTLED_AFTER_S``) sums them again. One per app and
    client (keyed by the database's name); threads may share it: at worst two of them sum the
    same entry, and each stores a whole ``Entry``."""

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def totals(self, db: Database[data.Document], until: datetime) -> tuple[float, float]:
        """(energy_j, co2e_g) of every rollup outside ``[until, data.LAST_13_DIGIT_DATE)``:
        read from the server on the first call for ``db`` and ``until``, kept after."""
        entry = self._entries.get(db.name)
        if entry is None or entry.cutoff != until:
            energy_j, co2e_g = data.rollup_totals_outside(db, until, data.LAST_13_DIGIT_DATE)
            entry = Entry(until, energy_j, co2e_g)
            self._entries[db.name] = entry
        return entry.energy_j, entry.co2e_g


def all_time(
    settled: tuple[float, float], recent: list[data.Document], since: datetime
) -> tuple[float, float]:
    """(energy_j, co2e_g) of all rollups: the ``settled`` totals (before ``since``) and those of
    the ``recent`` rollups (``data.rollups_since(db, since, data.LAST_13_DIGIT_DATE)``, or any
    read that holds them) that start at or after ``since``."""
    energy_j, co2e_g = figures.totals_since(recent, since)
    return settled[0] + energy_j, settled[1] + co2e_g
