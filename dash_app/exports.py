"""Exports for a spreadsheet or a script: CSV and JSON of the same records.

Numbers are the stored SI values, unrounded, in columns whose names carry their unit
(``energy_j``, ``co2e_g``, ``cost_eur``, ``started_at_utc``); flags are booleans; times are
ISO 8601 in UTC with a ``Z``. CSV cells a spreadsheet would run as a formula are neutralised
(``escape.csv_cell``); JSON needs no such care. File names say what and when:
``joulestream-runs-20260610T123020Z.csv``.
"""

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from joulestream.dash_app import escape

FORMATS = ("csv", "json")
MEDIA_TYPES = {"csv": "text/csv", "json": "application/json"}


def plain(value: object) -> object:
    """A value as an export holds it: a date as ISO 8601 UTC, everything else as it is."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return value


def records(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` cut to ``columns``, in that order, with plain values."""
    return [{column: plain(row.get(column)) for column in columns} for row in rows]


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A header of ``columns``, then one line per row; ``None`` is an empty cell, a flag
    ``true``/``false``, and text that would start a formula gets a leading ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records(rows, columns):
        writer.writerow([_csv_value(record[column]) for column in columns])
    return out.getvalue()


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # every digit: a round trip gives the stored double back
    return escape.csv_cell(value)


def to_json(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A JSON array of objects with ``columns`` as keys (``null`` for a missing value)."""
    return json.dumps(records(rows, columns), ensure_ascii=False, indent=1, allow_nan=False)


def filename(what: str, at: datetime, fmt: str) -> str:
    """``joulestream-<what>-<UTC time>.<fmt>``; ``what`` cut to letters, digits, ``.``, ``_``
    and ``-`` (a run id may hold anything), at most 80 characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", what).strip("._-")[:80] or "export"
    return f"joulestream-{safe}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}.{fmt}"


def download(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], what: str, at: datetime, fmt: str
) -> dict[str, Any]:
    """What a ``dcc.Download`` takes (as ``dcc.send_string`` builds it): the text, its file name
    and media type. ``fmt`` is ``"csv"`` or ``"json"``; anything else is refused."""
    if fmt not in FORMATS:
        raise ValueError(f"export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    text = to_csv(rows, columns) if fmt == "csv" else to_json(rows, columns)
    return {
        "content": text,
        "filename": filename(what, at, fmt),
        "type": MEDIA_TYPES[fmt],
        "base64": False,
    }
