"""Zone time series from CSV as grid intensity events.

One period per row, with a header naming the columns (any order; extra columns are ignored):

| column | required | value |
|---|---|---|
| ``zone`` | unless given for the whole file | e.g. ``FR``, ``aws:us-east-1`` |
| ``start`` | yes | period start: ISO 8601 with offset (``2024-03-05T20:00Z``) or UTC epoch ms |
| ``end`` | unless a period length is given | end of the period, the same forms |
| ``intensity_g_per_kwh`` | yes | g CO2e per kWh |
| ``kind`` | no (default ``average``) | ``average`` or ``marginal`` |
| ``source`` | unless given for the whole file | who published the figure |
| ``published_at`` | no (default: given for the file) | when it was published, the same forms |
| ``estimated`` | no | ``true``/``false`` (empty: not said) |

Lines starting with ``#`` are comments. Each row that is not a valid period is a ``Problem``
with its line number; the other rows are read.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from joulestream.grid.events import GridIntensity
from joulestream.grid.parsing import Parsed, Problem, SourceFormatError, number, utc_ms

REQUIRED = ("start", "intensity_g_per_kwh")
BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "": None}


@dataclass(frozen=True)
class Defaults:
    """What applies to every row that does not say otherwise."""

    published_at_ms: int
    zone: str | None = None
    source: str | None = None
    kind: str = "average"
    period_ms: int | None = None
    """The period's length when the file has no ``end`` column."""


def read(path: Path, defaults: Defaults) -> Parsed:
    """The events of the CSV file at ``path``; ``SourceFormatError`` if its header lacks a
    column that ``defaults`` does not supply."""
    with open(path, encoding="utf-8", newline="") as file:
        return read_lines(file, defaults)


def read_lines(lines: Iterable[str], defaults: Defaults) -> Parsed:
    numbered = ((n, line) for n, line in enumerate(lines, 1) if not line.startswith("#"))
    first = next(numbered, None)
    if first is None:
        raise SourceFormatError("the file is empty: expected a header line")
    header = [name.strip() for name in next(csv.reader([first[1]]))]
    needed = list(REQUIRED)
    for column, default in (
        ("zone", defaults.zone),
        ("source", defaults.source),
        ("end", defaults.period_ms),
    ):
        if default is None:
            needed.append(column)
    missing = [name for name in needed if name not in header]
    if missing:
        raise SourceFormatError(
            f"line {first[0]}: the header lacks {', '.join(missing)} (found {header}); zone, "
            "source and the period length may be given for the whole file instead"
        )
    parsed = Parsed()
    for number_, line in numbered:
        if not line.strip():
            continue
        cells = next(csv.reader([line]))
        where = f"line {number_}"
        if len(cells) != len(header):
            parsed.problems.append(
                Problem(where, f"{len(cells)} cells, the header has {len(header)}")
            )
            continue
        row = dict(zip(header, (cell.strip() for cell in cells), strict=True))
        parsed.add(where, partial(_event, row, defaults))
    return parsed


def _event(row: dict[str, str], defaults: Defaults) -> GridIntensity:
    start_ms = utc_ms(row["start"], "start")
    end = row.get("end")
    if end:
        end_ms = utc_ms(end, "end")
    elif defaults.period_ms is not None:
        end_ms = start_ms + defaults.period_ms
    else:
        raise ValueError("end is empty and no period length is given")
    published = row.get("published_at")
    estimated = row.get("estimated", "").lower()
    if estimated not in BOOLEANS:
        raise ValueError(f"estimated must be true, false or empty, got {row['estimated']!r}")
    return GridIntensity(
        zone=row.get("zone") or defaults.zone,  # type: ignore[arg-type]
        start_ms=start_ms,
        end_ms=end_ms,
        intensity_g_per_kwh=number(row["intensity_g_per_kwh"], "intensity_g_per_kwh"),
        kind=row.get("kind") or defaults.kind,
        source=row.get("source") or defaults.source,  # type: ignore[arg-type]
        published_at_ms=utc_ms(published, "published_at")
        if published
        else defaults.published_at_ms,
        estimated=BOOLEANS[estimated],
    )
