"""The MongoDB indexes behind the dashboard's queries, created once before the job writes.

The job's MongoDB sink does not create indexes, so ``make up`` (and the test fixtures) call this.
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database

INDEXES: dict[str, list[list[tuple[str, int]]]] = {
    "runs": [
        [("last_event_at", DESCENDING)],
        # The fleet page: running runs, and the runs with the most energy.
        [("status", ASCENDING), ("last_event_at", DESCENDING)],
        [("energy_j", DESCENDING)],
    ],
    "windows": [[("run_id", ASCENDING), ("window_start", ASCENDING)]],
    "rollups": [
        [("period_start", ASCENDING)],
        *(
            [(key, ASCENDING), ("period_start", ASCENDING)]
            for key in ("user_id", "model", "region")
        ),
    ],
    "epochs": [[("run_id", ASCENDING), ("epoch", ASCENDING)]],
    "late_events": [[("run_id", ASCENDING), ("event_at", ASCENDING)]],
    "dead_letters": [[("received_at", DESCENDING)]],
}


def ensure_indexes(db: Database[dict[str, Any]]) -> None:
    """Create every index the dashboard relies on (creating an existing one is a no-op)."""
    for collection, keys in INDEXES.items():
        for key in keys:
            db[collection].create_index(key)
