"""Every MongoDB query of the dashboard. Read-only; the documents' fields are those of the
contract, ``schemas/documents.py`` (``docs/documents.md``): every projection below is built from
it, so a field that is not there fails at import, not as a column that stays empty.

Each query is an indexed ``find`` (indexes in ``schemas/documents.py``) or reads pre-aggregated
documents (``runs``: one per run, ``rollups``, ``epochs``); sums and groupings are folded in
Python, because FerretDB's aggregation pipeline is slow or incomplete and these sets are small.

Every value a caller passes into a filter goes through ``checks`` first (text, or a short list of
texts), so that no browser-sent object becomes a query operator; ``checks.InvalidInput`` is
raised before anything is read.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

from joulestream.dash_app import checks, units
from joulestream.schemas import documents

Document = dict[str, Any]

RUN_FIELDS = documents.projection(
    documents.RUNS,
    (
        "run_id",
        "user_id",
        "project",
        "model",
        "dataset",
        "framework",
        "region",
        "status",
        "events",
        "started_at",
        "last_event_at",
        "finished_at",
        "samples",
        "tokens",
        "energy_j",
        "co2e_g",
        "energy_j_per_sample",
        "co2e_g_per_sample",
        "power_w",
        "pue",
        "intensity_g_per_kwh",
        "intensity_fallback",
        "grid_priced_energy_j",
        "grid_sources",
        "cpu_methods",
        "gpu_methods",
        "ram_methods",
    ),
)
# What marks a run's CO2e (``marks.of_run``), and what a group of runs is folded by.
FLAG_FIELDS = documents.projection(
    documents.RUNS,
    (
        "run_id",
        "user_id",
        "model",
        "region",
        "started_at",
        "last_event_at",
        "intensity_fallback",
        "cpu_methods",
        "gpu_methods",
        "ram_methods",
    ),
)
# What the Fleet page folds from every run (``fleet_runs.fold``): its liveness, power now, energy
# and marks; the top runs' other fields are read for those runs alone (``runs_in_order``).
FLEET_RUN_FIELDS = documents.projection(
    documents.RUNS,
    (
        "run_id",
        "status",
        "last_event_at",
        "energy_j",
        "power_w",
        "intensity_fallback",
        "cpu_methods",
        "gpu_methods",
        "ram_methods",
    ),
)
# The runs table's filters, as URL parameter → field of ``runs``.
FILTER_FIELDS = {
    "user": "user_id",
    "project": "project",
    "model": "model",
    "dataset": "dataset",
    "framework": "framework",
    "region": "region",
    "status": "status",
}
FILTERED_FIELDS = frozenset(FILTER_FIELDS.values())
WINDOW_FIELDS = documents.projection(
    documents.WINDOWS,
    (
        "run_id",
        "window_start",
        "window_end",
        "epoch",
        "samples",
        "tokens",
        "loss",
        "accuracy",
        "cpu_energy_j",
        "gpu_energy_j",
        "ram_energy_j",
        "energy_j",
        "co2e_g",
        "pue",
        "intensity_g_per_kwh",
        "intensity_source",
        "intensity_fallback",
        "grid_priced_energy_j",
        "grid_intensity_g_per_kwh",
        "grid_source",
    ),
)
ROLLUP_FIELDS = documents.projection(
    documents.ROLLUPS,
    (
        "user_id",
        "model",
        "region",
        "period_start",
        "period_end",
        "energy_j",
        "co2e_g",
        "grid_priced_energy_j",
        "interval_priced_energy_j",
        "grid_co2e_g",
        "interval_co2e_g",
    ),
)
GRID_FIELDS = documents.projection(
    documents.GRID_INTENSITY,
    ("period_start", "period_end", "intensity_g_per_kwh", "published_at"),
)
MAX_RUNS = 5_000


def ping(db: Database[Document]) -> None:
    """Raises ``PyMongoError`` when the server cannot be reached."""
    db.command("ping")


@dataclass(frozen=True)
class RunFilter:
    """The runs table's filters: field values (``None`` or empty: any) and a time range that a
    run's activity must overlap."""

    values: dict[str, list[str]]
    since: datetime | None = None
    until: datetime | None = None


def list_runs(db: Database[Document], run_filter: RunFilter | None = None) -> list[Document]:
    """Runs matching the filter, the most recently active first (index ``runs.last_event_at``)."""
    query: Document = {}
    if run_filter is not None:
        for field, given in run_filter.values.items():
            if field not in FILTERED_FIELDS:
                raise checks.InvalidInput(f"{field!r} is not a field the runs can be filtered by.")
            values = checks.texts(given, field)
            if values:
                query[field] = values[0] if len(values) == 1 else {"$in": values}
        if run_filter.since is not None:
            query["last_event_at"] = {"$gte": run_filter.since}
        if run_filter.until is not None:
            query["started_at"] = {"$lt": run_filter.until}
    cursor = db.runs.find(query, RUN_FIELDS).sort("last_event_at", DESCENDING).limit(MAX_RUNS)
    return list(cursor)


def filter_options(db: Database[Document]) -> dict[str, list[str]]:
    """The distinct values of each filter field, from one pass over ``runs`` (one document per
    run: the pre-aggregated set) rather than a ``distinct`` per field."""
    fields = dict.fromkeys(FILTER_FIELDS.values(), 1)
    return options_of(db.runs.find({}, {"_id": 0, **fields}).limit(MAX_RUNS))


def options_of(runs: Iterable[Document]) -> dict[str, list[str]]:
    """The distinct values of each filter field among ``runs``, sorted, keyed by field."""
    seen: dict[str, set[str]] = {field: set() for field in FILTER_FIELDS.values()}
    for run in runs:
        for field, values in seen.items():
            if run.get(field) is not None:
                values.add(str(run[field]))
    return {field: sorted(values) for field, values in seen.items()}


def lists_every_run(run_filter: RunFilter | None, listed: list[Document]) -> bool:
    """Whether ``listed``, what ``list_runs`` returned for ``run_filter``, is every run: no
    filter, and fewer runs than its limit. Their filter options are then ``options_of(listed)``,
    without a second read of ``runs``."""
    if run_filter is not None and (
        any(run_filter.values.values())
        or run_filter.since is not None
        or run_filter.until is not None
    ):
        return False
    return len(listed) < MAX_RUNS


def get_run(db: Database[Document], run_id: str) -> Document | None:
    """One run with every field (index ``_id``)."""
    return db.runs.find_one({"_id": checks.text(run_id, "run id")}, {"_id": 0})


def get_runs(db: Database[Document], run_ids: list[str]) -> list[Document]:
    """The named runs in the order asked, unknown ones left out (index ``_id``)."""
    ids = checks.texts(run_ids, "run ids")
    found = {run["run_id"]: run for run in db.runs.find({"_id": {"$in": ids}}, {"_id": 0})}
    return [found[run_id] for run_id in ids if run_id in found]


def run_windows(db: Database[Document], run_id: str) -> list[Document]:
    """One run's closed windows in time order (index ``windows.run_id_1_window_start_1``)."""
    query = {"run_id": checks.text(run_id, "run id")}
    cursor = db.windows.find(query, WINDOW_FIELDS).sort("window_start", ASCENDING)
    return list(cursor)


def windows_of_runs(db: Database[Document], run_ids: list[str]) -> dict[str, list[Document]]:
    """Several runs' windows in time order, in one query
    (index ``windows.run_id_1_window_start_1``)."""
    ids = checks.texts(run_ids, "run ids")
    by_run: dict[str, list[Document]] = {run_id: [] for run_id in ids}
    if not ids:
        return by_run
    query = {"run_id": {"$in": ids}}
    for window in db.windows.find(query, WINDOW_FIELDS).sort("window_start", ASCENDING):
        by_run[window["run_id"]].append(window)
    return by_run


def epochs_of_runs(db: Database[Document], run_ids: list[str]) -> dict[str, list[Document]]:
    """Several runs' epochs in epoch order, in one query (index ``epochs.run_id_1_epoch_1``); a
    run without epochs maps to an empty list. ``epochs`` holds one document per run per epoch,
    so this reads about a thousandth of what ``windows_of_runs`` reads."""
    ids = checks.texts(run_ids, "run ids")
    by_run: dict[str, list[Document]] = {run_id: [] for run_id in ids}
    if not ids:
        return by_run
    query = {"run_id": {"$in": ids}}
    cursor = db.epochs.find(query, {"_id": 0}).sort([("run_id", ASCENDING), ("epoch", ASCENDING)])
    for epoch in cursor:
        by_run[epoch["run_id"]].append(epoch)
    return by_run


def run_epochs(db: Database[Document], run_id: str) -> list[Document]:
    """One run's epochs in order (index ``epochs.run_id_1_epoch_1``)."""
    query = {"run_id": checks.text(run_id, "run id")}
    cursor = db.epochs.find(query, {"_id": 0}).sort("epoch", ASCENDING)
    return list(cursor)


def run_late_energy_j(db: Database[Document], run_id: str) -> float:
    """Energy of the run's late events: in its totals but in no window
    (index ``late_events.run_id_1_event_at_1``)."""
    query = {"run_id": checks.text(run_id, "run id")}
    late = db.late_events.find(query, {"_id": 0, "energy_j": 1})
    return sum(float(event.get("energy_j") or 0.0) for event in late)


def every_run(db: Database[Document]) -> list[Document]:
    """Every run with ``FLEET_RUN_FIELDS``, in one read with no filter or sort: what the Fleet
    page folds (``fleet_runs.fold``) into its counts, totals, marks, top runs and newest event.
    The local FerretDB decodes every run for any sort or ``$group`` on ``runs``, so one read
    costs what each of the four it replaces did; MongoDB read every run for the ``$group``
    already. Few fields, since each one sent back costs: 0.21 s for 1,000 runs on the local
    FerretDB, 0.26 s with ``RUN_FIELDS`` (``docs/benchmarks.md``)."""
    return list(db.runs.find({}, FLEET_RUN_FIELDS))


def runs_in_order(db: Database[Document], run_ids: list[str]) -> list[Document]:
    """The runs named by ``run_ids`` with ``RUN_FIELDS``, in that order, any not there left out
    (index ``_id``). For ids read from the documents (Fleet's top runs); a browser's go through
    ``get_runs``, which checks them."""
    if not run_ids:
        return []
    query = {"_id": {"$in": run_ids}}
    found = {run["run_id"]: run for run in db.runs.find(query, RUN_FIELDS)}
    return [found[run_id] for run_id in run_ids if run_id in found]


def flagged_runs(db: Database[Document]) -> list[Document]:
    """The runs whose CO2e carries a mark (``marks``): priced at the world average, or with a
    component measured by an estimate (``units.ESTIMATE_PATTERN``; a regular expression on an
    array matches any of its elements). Few runs in a fleet that is priced and metered, so
    totals of many runs get their marks without reading every run."""
    fields = ("cpu_methods", "gpu_methods", "ram_methods")
    estimated = [{field: {"$regex": units.ESTIMATE_PATTERN}} for field in fields]
    query = {"$or": [{"intensity_fallback": True}, *estimated]}
    return list(db.runs.find(query, FLAG_FIELDS).limit(MAX_RUNS))


def rollup_totals(db: Database[Document]) -> tuple[float, float]:
    """(energy_j, co2e_g) of every rollup, summed by the server: the all-time total from the
    same documents as the fleet's "today" and "this week"."""
    totals = {"energy_j": {"$sum": "$energy_j"}, "co2e_g": {"$sum": "$co2e_g"}}
    for row in db.rollups.aggregate([{"$group": {"_id": None, **totals}}]):
        return float(row["energy_j"]), float(row["co2e_g"])
    return 0.0, 0.0


# The last date whose Unix milliseconds have 13 digits. The stack's FerretDB answers a date range
# from its index only when both bounds have as many digits (``stack/patches``), and every date
# from 2001-09-09 has 13: a range that ends here is indexed and leaves no realistic period out.
LAST_13_DIGIT_DATE = datetime(2286, 11, 20, 17, 46, 39, 999_000, tzinfo=UTC)


def rollup_totals_outside(
    db: Database[Document], since: datetime, until: datetime
) -> tuple[float, float]:
    """(energy_j, co2e_g) of every rollup whose period does not start in ``[since, until)``
    (nor has a ``period_start`` at all), summed by the server: with ``rollups_since`` over the
    same bounds, every rollup is in exactly one of the two."""
    inside = {"period_start": {"$gte": since, "$lt": until}}
    totals = {"energy_j": {"$sum": "$energy_j"}, "co2e_g": {"$sum": "$co2e_g"}}
    pipeline: list[Document] = [
        {"$match": {"$nor": [inside]}},
        {"$group": {"_id": None, **totals}},
    ]
    for row in db.rollups.aggregate(pipeline):
        return float(row["energy_j"]), float(row["co2e_g"])
    return 0.0, 0.0


def rollups_since(
    db: Database[Document], since: datetime | None, until: datetime
) -> list[Document]:
    """Rollups of periods starting at or after ``since`` (from the first with ``None``) and
    before ``until``, in time order (index ``rollups.period_start_1``). The stack's FerretDB
    answers a date range from the index only when it has both bounds."""
    period: Document = {"$lt": until} if since is None else {"$gte": since, "$lt": until}
    query: Document = {"period_start": period}
    return list(db.rollups.find(query, ROLLUP_FIELDS).sort("period_start", ASCENDING))


def grid_series(
    db: Database[Document], zone: str, kind: str, since: datetime, until: datetime
) -> list[Document]:
    """One zone's grid periods of one kind that start in ``[since, until)``, in time order
    (index ``grid_intensity.zone_1_kind_1_period_start_1``; both bounds, so the stack's FerretDB
    answers from the index)."""
    query = {
        "zone": checks.text(zone, "region"),
        "kind": checks.text(kind, "kind"),
        "period_start": {"$gte": since, "$lt": until},
    }
    return list(db.grid_intensity.find(query, GRID_FIELDS).sort("period_start", ASCENDING))


def leaderboard_groups(db: Database[Document]) -> list[Document]:
    """What the leaderboards fold: every run's totals summed by the server per user, model and
    region (``runs``, ``energy_j``, ``co2e_g``, ``samples``), one document per combination."""
    group = {
        "_id": {"user_id": "$user_id", "model": "$model", "region": "$region"},
        "runs": {"$sum": 1},
        "energy_j": {"$sum": "$energy_j"},
        "co2e_g": {"$sum": "$co2e_g"},
        "samples": {"$sum": "$samples"},
    }
    return [{**row.pop("_id"), **row} for row in db.runs.aggregate([{"$group": group}])]


@dataclass(frozen=True)
class Health:
    """The pipeline's state as the documents show it."""

    last_event_at: datetime | None
    late_events: int
    dead_letters: int
    latest_dead_letters: list[Document]


def health(db: Database[Document], last_event_at: datetime | None, dead_letters: int = 5) -> Health:
    """The late-event and dead-letter counts (collection metadata: the ``count`` command scans
    nothing) and the newest dead letters (index ``dead_letters.received_at``), beside the newest
    event time, which the caller folds from the runs it read (``fleet_runs.fold``)."""
    letters = db.dead_letters.find({}, {"_id": 1, "reason": 1, "received_at": 1, "run_id": 1})
    return Health(
        last_event_at=last_event_at,
        late_events=db.late_events.estimated_document_count(),
        dead_letters=db.dead_letters.estimated_document_count(),
        latest_dead_letters=list(letters.sort("received_at", DESCENDING).limit(dead_letters)),
    )
