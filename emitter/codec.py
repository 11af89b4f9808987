"""Avro binary encoding of events with fastavro, schema from ``schemas/``.

The bytes are plain Avro (no container header, no registry prefix): what Flink's ``avro`` format
reads.
"""

import io
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

import schemas

MEASUREMENT_SCHEMA = parse_schema(schemas.load(schemas.MEASUREMENT_V1))


def encode(record: dict[str, Any], schema: Any = MEASUREMENT_SCHEMA) -> bytes:  # noqa: ANN401
    """One record as Avro binary."""
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, record)
    return buffer.getvalue()


def decode(data: bytes, schema: Any = MEASUREMENT_SCHEMA) -> dict[str, Any]:  # noqa: ANN401
    """One Avro binary record back to a dict."""
    record = schemaless_reader(io.BytesIO(data), schema, None)
    if not isinstance(record, dict):
        raise ValueError(f"expected an Avro record, decoded {type(record).__name__}")
    return record
