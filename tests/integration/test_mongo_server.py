import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient, ReplaceOne
from pymongo.database import Database

from stack.settings import StackSettings

Document = dict[str, Any]


@pytest.fixture
def scratch(services: StackSettings) -> Iterator[Database[Document]]:
    """A database of its own on the suite's MongoDB-compatible server, dropped after."""
    client: MongoClient[Document] = MongoClient(
        services.mongo_uri, socketTimeoutMS=20_000, tz_aware=True
    )
    database = client[f"test_server_{uuid.uuid4().hex[:10]}"]
    try:
        yield database
    finally:
        client.drop_database(database.name)
        client.close()


def check_index_used(db: Database[Document], collection: str, query: Document) -> None:
    """On FerretDB, that the patched SQLite backend answers ``query`` from an index."""
    if "ferretdb" not in db.client.admin.command("buildInfo"):
        return
    explained = db.command(
        "explain", {"find": collection, "filter": query}, verbosity="queryPlanner"
    )
    assert explained["filterPushdown"] is True
    assert any("USING INDEX" in step for step in explained["queryPlanner"]["Plan"])


def test_bulk_upserts_over_existing_documents_complete(scratch: Database[Document]):
    """One bulk write of 150 replacements of existing documents, as the Flink MongoDB sink sends
    when it flushes, completes (FerretDB 1.24.2 unpatched waits for ever from 100 on)."""
    collection = scratch["docs"]
    results = [
        collection.bulk_write(
            [ReplaceOne({"_id": i}, {"_id": i, "round": r}, upsert=True) for i in range(150)]
        )
        for r in range(2)
    ]
    assert [(x.upserted_count, x.modified_count) for x in results] == [(150, 0), (0, 150)]
    assert collection.count_documents({"round": 1}) == 150


TRICKY = [
    "run-1",
    "",
    'quote " and \\ backslash',
    "<html> & 'amp'",
    "é ü 中文 🙂",
    "tab\tnew\nline",
]


def test_string_filters_answer_as_mongodb_does_and_use_the_index(scratch: Database[Document]):
    """`{f: "v"}` and `{f: {$in: [...]}}` find exactly what MongoDB finds (an array holding "v"
    included); on FerretDB the patched SQLite backend answers them from the index on `f`."""
    collection = scratch["docs"]
    collection.create_index([("f", 1), ("n", 1)])
    docs: list[Document] = [{"_id": f"s{i}", "f": s, "n": i} for i, s in enumerate(TRICKY)]
    docs += [
        {"_id": "array", "f": ["x", TRICKY[3]], "n": 100},
        {"_id": "number", "f": 1, "n": 102},
        {"_id": "missing", "n": 103},
        {"_id": "document", "f": {"run-1": 1}, "n": 104},
    ]
    collection.insert_many(docs)

    def ids(query: Document) -> set[str]:
        return {d["_id"] for d in collection.find(query, {"_id": 1})}

    for i, s in enumerate(TRICKY):
        expected = {f"s{i}", "array"} if s == TRICKY[3] else {f"s{i}"}
        assert ids({"f": s}) == expected, s
        assert ids({"f": {"$in": [s, "nothing"]}}) == expected, s
        assert ids({"f": s, "n": {"$gte": 0}}) == expected, s
    assert ids({"f": "x"}) == {"array"}
    assert ids({"f": {"$in": ["x", "run-1"]}}) == {"s0", "array"}
    assert ids({"f": "nothing"}) == set()
    assert collection.count_documents({"f": TRICKY[3]}) == 2
    assert ids({"_id": {"$in": ["s1", "number", "nothing"]}}) == {"s1", "number"}

    check_index_used(scratch, "docs", {"f": "run-1"})


def test_group_fills_every_accumulator(scratch: Database[Document]):
    """A `$group` with several accumulators fills each (FerretDB 1.24.2 unpatched fills the
    first and answers 0 for the others: the dashboard's totals would read 0 g CO2e)."""
    collection = scratch["runs"]
    collection.insert_many(
        [
            {"_id": "a", "user_id": "x", "energy_j": 1.5, "co2e_g": 0.25},
            {"_id": "b", "user_id": "x", "energy_j": 2.0, "co2e_g": 0.5},
            {"_id": "c", "user_id": "y", "energy_j": 4.0, "co2e_g": 1.0},
        ]
    )
    sums = {"energy_j": {"$sum": "$energy_j"}, "co2e_g": {"$sum": "$co2e_g"}, "n": {"$sum": 1}}
    grouped = collection.aggregate([{"$group": {"_id": "$user_id", **sums}}])
    assert sorted(grouped, key=lambda g: g["_id"]) == [
        {"_id": "x", "energy_j": 3.5, "co2e_g": 0.75, "n": 2},
        {"_id": "y", "energy_j": 4.0, "co2e_g": 1.0, "n": 1},
    ]


def test_date_ranges_answer_as_mongodb_does_and_use_the_index(scratch: Database[Document]):
    """`{t: {$gte: a, $lt: b}}` finds exactly what MongoDB finds: dates of any number of digits
    of milliseconds, an array holding a date in the range, never a number or a string; on
    FerretDB the patched SQLite backend answers a range with both bounds from the index."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    collection = scratch["docs"]
    collection.create_index([("t", 1)])
    hours = {f"h{h}": t0 + timedelta(hours=h) for h in range(-2, 5)}
    others: Document = {
        "epoch": datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),  # 4 digits of milliseconds
        "far": datetime(2300, 1, 1, tzinfo=UTC),  # 14 digits
        "array": [t0 - timedelta(days=9), t0 + timedelta(hours=1, minutes=30)],
        "number": int((t0 + timedelta(hours=1)).timestamp() * 1000),
        "string": "2026-01-01T01:00:00Z",
    }
    collection.insert_many([{"_id": k, "t": v} for k, v in {**hours, **others}.items()])

    def ids(query: Document) -> set[str]:
        return {d["_id"] for d in collection.find(query, {"_id": 1})}

    t1, t3 = t0 + timedelta(hours=1), t0 + timedelta(hours=3)
    assert ids({"t": {"$gte": t1, "$lt": t3}}) == {"h1", "h2", "array"}
    assert ids({"t": {"$gt": t1, "$lte": t3}}) == {"h2", "h3", "array"}
    assert ids({"t": {"$gte": t0, "$lt": datetime(2400, 1, 1, tzinfo=UTC)}}) == {
        "h0", "h1", "h2", "h3", "h4", "far", "array"
    }  # fmt: skip
    assert ids({"t": {"$gte": datetime(1970, 1, 1, tzinfo=UTC), "$lt": t0}}) == {
        "h-2", "h-1", "epoch", "array"
    }  # fmt: skip
    assert ids({"t": {"$lt": t0 - timedelta(hours=1)}}) == {"h-2", "epoch", "array"}

    check_index_used(scratch, "docs", {"t": {"$gte": t1, "$lt": t3}})
