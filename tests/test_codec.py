import fastavro

import schemas
from emitter import codec
from tests.test_events import measurement


def test_round_trip_keeps_every_field():
    """Encoding then decoding returns the same record, null samples included."""
    for event in (measurement(), measurement(samples=None)):
        record = event.to_record()
        assert codec.decode(codec.encode(record)) == record


def test_every_schema_field_documents_its_unit():
    """The contract says what every field means: each has a doc."""
    schema = schemas.load(schemas.MEASUREMENT_V1)
    undocumented = [f["name"] for f in schema["fields"] if not f.get("doc")]
    assert undocumented == []


def test_schema_is_valid_avro():
    """fastavro accepts the schema as it is."""
    parsed = fastavro.parse_schema(schemas.load(schemas.MEASUREMENT_V1))
    assert isinstance(parsed, dict)
    assert parsed["name"] == "io.joulestream.events.v1.Measurement"
