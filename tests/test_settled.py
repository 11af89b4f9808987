"""The fleet's All time from the rollups: the settled cut-off, the kept sum and when it is summed
again, the split of the rollups between the kept sum and the page's read. No server: a fake
collection answers the two query shapes ``data`` sends."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pymongo.database import Database

from joulestream.dash_app import data, settings, settled

Document = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _inside(rollup: Document, bounds: Document) -> bool:
    start = rollup.get("period_start")
    return start is not None and bounds["$gte"] <= start < bounds["$lt"]


class FakeRollups:
    """``rollups`` answering ``data.rollups_since`` (a ``period_start`` range) and
    ``data.rollup_totals_outside`` (``$match`` on ``$nor`` of that range, then ``$group``)."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self.pipelines: list[list[Document]] = []

    def aggregate(self, pipeline: list[Document]) -> list[Document]:
        self.pipelines.append(pipeline)
        match, group = pipeline
        (bounds,) = [f["period_start"] for f in match["$match"]["$nor"]]
        shown = [r for r in self.documents if not _inside(r, bounds)]
        assert set(group["$group"]) == {"_id", "energy_j", "co2e_g"}
        if not shown:
            return []
        return [
            {
                "_id": None,
                "energy_j": sum(r["energy_j"] for r in shown),
                "co2e_g": sum(r["co2e_g"] for r in shown),
            }
        ]

    def find(self, query: Document, _projection: object) -> "FakeCursor":
        return FakeCursor([r for r in self.documents if _inside(r, query["period_start"])])


class FakeCursor:
    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents)

    def sort(self, field: str, _direction: int) -> "FakeCursor":
        return FakeCursor(sorted(self.documents, key=lambda r: r[field]))


class FakeDatabase:
    def __init__(self, name: str, rollups: list[Document]) -> None:
        self.name = name
        self.rollups = FakeRollups(rollups)


def fake(name: str, rollups: list[Document]) -> tuple[FakeDatabase, Database[Document]]:
    database = FakeDatabase(name, rollups)
    return database, cast(Database[Document], database)


def rollup(day: int, hour: int, energy_j: float, co2e_g: float) -> Document:
    return {
        "period_start": datetime(2026, 11, day, hour, tzinfo=UTC),
        "energy_j": energy_j,
        "co2e_g": co2e_g,
    }


# Periods on 20 and 21 November are settled at the cut-off of 22 November 00:00; the others not.
ROLLUPS = [
    rollup(20, 5, 100.0, 1.0),
    rollup(21, 23, 200.0, 2.0),
    rollup(22, 0, 400.0, 4.0),
    rollup(30, 17, 800.0, 8.0),
]
NOW = datetime(2026, 11, 30, 17, 51, 0, tzinfo=UTC)
CUTOFF = datetime(2026, 11, 22, tzinfo=UTC)


def test_the_cut_off_is_the_start_of_the_day_the_settled_age_reaches():
    """Eight days (the default: the job's 7-day largest event age and a day) before 30 November
    17:51 is 22 November 17:51; the cut-off is that day's start, in UTC."""
    assert settings.DashSettings().settled_after_s == 691_200
    assert settled.cutoff(NOW, 691_200) == CUTOFF
    assert settled.cutoff(datetime(2026, 11, 30, tzinfo=UTC), 691_200) == CUTOFF
    assert settled.cutoff(datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC), 691_200) == datetime(
        2026, 11, 21, tzinfo=UTC
    )
    # Another zone's clock gives the same UTC day.
    cet = NOW.astimezone(datetime(2026, 1, 1, tzinfo=UTC).astimezone().tzinfo)
    assert settled.cutoff(cet, 691_200) == CUTOFF


def test_the_settled_age_is_a_setting_of_at_least_an_hour():
    """``DASH_SETTLED_AFTER_S`` sets it; under an hour is refused with the variable's name."""
    assert settings.from_env({"DASH_SETTLED_AFTER_S": "90000"}).settled_after_s == 90_000
    with pytest.raises(settings.SettingsError, match=r"^DASH_SETTLED_AFTER_S='60' must be"):
        settings.from_env({"DASH_SETTLED_AFTER_S": "60"})


def test_the_settled_sum_is_read_once_per_database_and_cut_off():
    """The first call sums the rollups before the cut-off on the server; later calls with the
    same cut-off read nothing and return the kept sum (even if the documents changed); the next
    day's cut-off, or another database, is summed again."""
    fake_db, db = fake("joulestream", list(ROLLUPS))
    kept = settled.SettledTotals()
    assert kept.totals(db, CUTOFF) == (300.0, 3.0)
    inside = {"period_start": {"$gte": CUTOFF, "$lt": data.LAST_13_DIGIT_DATE}}
    sums = {"energy_j": {"$sum": "$energy_j"}, "co2e_g": {"$sum": "$co2e_g"}}
    assert fake_db.rollups.pipelines == [
        [{"$match": {"$nor": [inside]}}, {"$group": {"_id": None, **sums}}]
    ]
    fake_db.rollups.documents.append(rollup(19, 0, 1600.0, 16.0))
    assert kept.totals(db, CUTOFF) == (300.0, 3.0)
    assert len(fake_db.rollups.pipelines) == 1
    next_day = CUTOFF + timedelta(days=1)
    assert kept.totals(db, next_day) == (1600.0 + 300.0 + 400.0, 16.0 + 3.0 + 4.0)
    assert len(fake_db.rollups.pipelines) == 2
    other_fake, other = fake("other", [rollup(1, 0, 7.0, 0.5)])
    assert kept.totals(other, next_day) == (7.0, 0.5)
    assert kept.totals(db, next_day) == (1900.0 + 400.0, 23.0)
    assert (len(fake_db.rollups.pipelines), len(other_fake.rollups.pipelines)) == (2, 1)


def test_an_empty_collection_sums_to_zero():
    """No rollup before the cut-off (the server returns no group): zero, kept as well."""
    fake_db, db = fake("joulestream", [rollup(30, 17, 800.0, 8.0)])
    kept = settled.SettledTotals()
    assert kept.totals(db, CUTOFF) == (0.0, 0.0)
    assert kept.totals(db, CUTOFF) == (0.0, 0.0)
    assert len(fake_db.rollups.pipelines) == 1


def test_all_time_is_the_settled_sum_and_the_rollups_read_from_the_cut_off():
    """Every rollup counted once: the kept sum holds those outside ``[cut-off, last date)``, the
    page's read those inside; rollups before the cut-off in the read (a longer range) are not
    counted twice."""
    _, db = fake("joulestream", [*ROLLUPS, {"energy_j": 3200.0, "co2e_g": 32.0}])
    settled_part = settled.SettledTotals().totals(db, CUTOFF)
    assert settled_part == (300.0 + 3200.0, 3.0 + 32.0)
    recent = data.rollups_since(db, CUTOFF, data.LAST_13_DIGIT_DATE)
    assert [r["energy_j"] for r in recent] == [400.0, 800.0]
    assert settled.all_time(settled_part, recent, CUTOFF) == (4700.0, 47.0)
    longer = data.rollups_since(db, CUTOFF - timedelta(days=30), data.LAST_13_DIGIT_DATE)
    assert settled.all_time(settled_part, longer, CUTOFF) == (4700.0, 47.0)


def test_the_last_date_is_the_last_millisecond_with_13_digits():
    """The stack's FerretDB answers a date range from its index only when both bounds' Unix
    milliseconds have as many digits: every date from 2001-09-09 to this one has 13."""
    last_ms = (data.LAST_13_DIGIT_DATE - EPOCH) // timedelta(milliseconds=1)
    assert last_ms == 9_999_999_999_999
    first_ms = (datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC) - EPOCH) // timedelta(milliseconds=1)
    assert first_ms == 1_000_000_000_000
