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
