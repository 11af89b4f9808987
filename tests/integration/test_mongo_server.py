import uuid
from typing import Any

from pymongo import MongoClient, ReplaceOne

from stack.settings import StackSettings


def test_bulk_upserts_over_existing_documents_complete(services: StackSettings):
    """One bulk write of 150 replacements of existing documents, as the Flink MongoDB sink sends
    when it flushes, completes (FerretDB 1.24.2 unpatched waits for ever from 100 on)."""
    client: MongoClient[dict[str, Any]] = MongoClient(services.mongo_uri, socketTimeoutMS=20_000)
    database = f"test_bulk_{uuid.uuid4().hex[:10]}"
    try:
        collection = client[database]["docs"]
        results = [
            collection.bulk_write(
                [ReplaceOne({"_id": i}, {"_id": i, "round": r}, upsert=True) for i in range(150)]
            )
            for r in range(2)
        ]
        assert [(x.upserted_count, x.modified_count) for x in results] == [(150, 0), (0, 150)]
        assert collection.count_documents({"round": 1}) == 150
    finally:
        client.drop_database(database)
        client.close()


TRICKY = [
    "run-1",
    "",
    'quote " and \\ backslash',
    "<html> & 'amp'",
    "é ü 中文 🙂",
    "tab\tnew\nline",
]


def test_string_filters_answer_as_mongodb_does_and_use_the_index(services: StackSettings):
    """`{f: "v"}` and `{f: {$in: [...]}}` find exactly what MongoDB finds (an array holding "v"
    included); on FerretDB the patched SQLite backend answers them from the index on `f`."""
    client: MongoClient[dict[str, Any]] = MongoClient(services.mongo_uri, socketTimeoutMS=20_000)
    database = f"test_filters_{uuid.uuid4().hex[:10]}"
    try:
        collection = client[database]["docs"]
        collection.create_index([("f", 1), ("n", 1)])
        docs: list[dict[str, Any]] = [
            {"_id": f"s{i}", "f": s, "n": i} for i, s in enumerate(TRICKY)
        ]
        docs += [
            {"_id": "array", "f": ["x", TRICKY[3]], "n": 100},
            {"_id": "number", "f": 1, "n": 102},
            {"_id": "missing", "n": 103},
            {"_id": "document", "f": {"run-1": 1}, "n": 104},
        ]
        collection.insert_many(docs)

        def ids(query: dict[str, Any]) -> set[str]:
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

        if "ferretdb" in client.admin.command("buildInfo"):
            explained = client[database].command(
                "explain", {"find": "docs", "filter": {"f": "run-1"}}, verbosity="queryPlanner"
            )
            assert explained["filterPushdown"] is True
            assert any("USING INDEX" in step for step in explained["queryPlanner"]["Plan"])
    finally:
        client.drop_database(database)
        client.close()
