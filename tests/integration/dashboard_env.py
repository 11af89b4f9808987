"""Fixtures' helpers for the dashboard tests: a seeded database of its own, and a client that
records every command the dashboard sends."""

import contextlib
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pymongo import MongoClient, monitoring
from pymongo.database import Database

from flink_jobs.indexes import ensure_indexes
from tests.integration import dashboard_fleet

WRITES = {
    "insert", "update", "delete", "findAndModify", "createIndexes", "dropIndexes", "drop",
    "dropDatabase", "create", "renameCollection", "createUser", "bulkWrite",
}  # fmt: skip


class Commands(monitoring.CommandListener):
    """The names of the commands a client started."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextlib.contextmanager
def seeded_database(
    uri: str, now: datetime | None, commands: Commands
) -> Iterator[Database[dict[str, Any]]]:
    """A fresh database (seeded with the small fleet ending at ``now``, empty with ``None``),
    read through a client that reports to ``commands``; dropped afterwards."""
    name = f"test_dash_{uuid.uuid4().hex[:10]}"
    writer: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    reader: MongoClient[dict[str, Any]] = MongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=2000, event_listeners=[commands]
    )
    try:
        ensure_indexes(writer[name])
        if now is not None:
            dashboard_fleet.seed(writer[name], now)
        yield reader[name]
    finally:
        reader.close()
        writer.drop_database(name)
        writer.close()
