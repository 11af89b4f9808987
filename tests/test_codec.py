from typing import Any

import fastavro

from joulestream import codec, schemas
from tests.test_events import finished, measurement, started


def test_round_trip_keeps_every_field():
    """Encoding then decoding returns the same record, for every kind of event."""
    for event in (measurement(), measurement(samples=None), started(), finished()):
        record = event.to_record()
        assert codec.decode(codec.encode(record)) == record


def test_every_schema_field_documents_its_unit():
    """The contract says what every field means: each has a doc."""
    undocumented: list[str] = []

    def visit(record: dict[str, Any], path: str) -> None:
        for field in record["fields"]:
            name = f"{path}{field['name']}"
            if not field.get("doc"):
                undocumented.append(name)
            for branch in field["type"] if isinstance(field["type"], list) else [field["type"]]:
                if isinstance(branch, dict) and branch.get("type") == "record":
                    visit(branch, name + ".")
                is_array = isinstance(branch, dict) and branch.get("type") == "array"
                if is_array and isinstance(branch["items"], dict):
                    visit(branch["items"], name + "[].")

    visit(schemas.load(schemas.TRAINING_EVENT), "")
    assert undocumented == []


def test_schema_is_valid_avro():
    """fastavro accepts the schema as it is."""
    parsed = fastavro.parse_schema(schemas.load(schemas.TRAINING_EVENT))
    assert isinstance(parsed, dict)
    assert parsed["name"] == "io.joulestream.events.TrainingEvent"
