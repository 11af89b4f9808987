"""Avro binary of ``GridIntensity`` records, schema ``schemas/grid_intensity.avsc``.

Plain Avro without header or registry prefix, as the training events; written by a writer
compiled from the schema (``emitter.avro_writer``), read by fastavro.
"""

import io

from fastavro import parse_schema, schemaless_reader

from joulestream import schemas
from joulestream.avro_writer import compile_writer
from joulestream.grid.events import GridIntensity

GRID_SCHEMA = parse_schema(schemas.load(schemas.GRID_INTENSITY))
_write = compile_writer(GRID_SCHEMA)


def encode(event: GridIntensity) -> bytes:
    """The event's record as Avro binary."""
    return _write(event.to_record())


def decode(data: bytes) -> GridIntensity:
    """Avro binary back to a checked event; ``ValueError`` for a record outside the bounds."""
    record = schemaless_reader(io.BytesIO(data), GRID_SCHEMA, None)
    if not isinstance(record, dict):
        raise ValueError(f"expected an Avro record, decoded {type(record).__name__}")
    return GridIntensity.from_record(record)
