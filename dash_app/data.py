"""Every MongoDB query of the dashboard. Read-only; shapes are in ``docs/documents.md``."""

from typing import Any

from pymongo.database import Database

Document = dict[str, Any]

RUN_FIELDS = {
    "_id": 0,
    "run_id": 1,
    "user_id": 1,
    "project": 1,
    "model": 1,
    "region": 1,
    "status": 1,
    "events": 1,
    "last_event_at": 1,
    "energy_j": 1,
}


def list_runs(db: Database[Document], limit: int = 500) -> list[Document]:
    """The most recently active runs first (index ``runs.last_event_at``)."""
    cursor = db.runs.find({}, RUN_FIELDS).sort("last_event_at", -1).limit(limit)
    return list(cursor)


def run_windows(db: Database[Document], run_id: str) -> list[Document]:
    """One run's closed windows in time order (index ``windows.run_id_1_window_start_1``)."""
    cursor = db.windows.find({"run_id": run_id}, {"_id": 0}).sort("window_start", 1)
    return list(cursor)
