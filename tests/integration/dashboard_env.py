"""Fixtures' helpers for the dashboard tests: a seeded database of its own, and a client that
records every command the dashboard sends."""

import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from pymongo import MongoClient, monitoring
from pymongo.database import Database

from joulestream.schemas.documents import ensure_indexes
from tests.integration import dashboard_fleet

WRITES = {
    "insert", "update", "delete", "findAndModify", "createIndexes", "dropIndexes", "drop",
    "dropDatabase", "create", "renameCollection", "createUser", "bulkWrite",
}  # fmt: skip


class Commands(monitoring.CommandListener):
    """The commands a client started: their names, and per command the collection it read
    (``None`` for a command on no collection) with its filter."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.reads: list[tuple[str, str | None, dict[str, Any] | None]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else None
        self.reads.append((event.command_name, collection, event.command.get("filter")))

    def collections(self) -> set[str]:
        """The collections read so far."""
        return {collection for _, collection, _ in self.reads if collection is not None}

    def clear(self) -> None:
        self.names.clear()
        self.reads.clear()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@contextlib.contextmanager
def seeded_database(
    uri: str,
    now: datetime | None,
    commands: Commands,
    seed: Callable[[Database[dict[str, Any]], datetime], None] = dashboard_fleet.seed,
) -> Iterator[Database[dict[str, Any]]]:
    """A fresh database (seeded by ``seed``, the small fleet by default, ending at ``now``;
    empty with ``None``), read through a client that reports to ``commands``; dropped
    afterwards."""
    name = f"test_dash_{uuid.uuid4().hex[:10]}"
    writer: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    reader: MongoClient[dict[str, Any]] = MongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=2000, event_listeners=[commands]
    )
    try:
        ensure_indexes(writer[name])
        if now is not None:
            seed(writer[name], now)
        yield reader[name]
    finally:
        reader.close()
        writer.drop_database(name)
        writer.close()
