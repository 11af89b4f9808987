"""Avro binary encoding of events, schema from ``schemas/``.

The bytes are plain Avro (no container header, no registry prefix): what Flink's ``avro`` format
reads. Events are written by a writer compiled from the contract (``joulestream.avro_writer``, about
four times faster than fastavro's generic one); fastavro reads them back and explains a record
that does not match the schema.
"""

import io
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from joulestream import limits, schemas
from joulestream.avro_writer import compile_writer

EVENT_SCHEMA = parse_schema(schemas.load(schemas.TRAINING_EVENT))
_write_event = compile_writer(EVENT_SCHEMA)


def encode(record: dict[str, Any], schema: Any = EVENT_SCHEMA) -> bytes:  # noqa: ANN401
    """One record as Avro binary; a record that does not match raises fastavro's error, an event
    larger than ``limits.MAX_EVENT_SIZE_BYTES`` raises ``ValueError``."""
    if schema is EVENT_SCHEMA:
        try:
            data: bytes = _write_event(record)
        except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
            data = _encode_generic(record, schema)  # names the field that does not fit
        limits.check_encoded_size(len(data), f"{record.get('event_type')} event")
        return data
    return _encode_generic(record, schema)


def _encode_generic(record: dict[str, Any], schema: Any) -> bytes:  # noqa: ANN401
    buffer = io.BytesIO()
    schemaless_writer(buffer, schema, record)
    return buffer.getvalue()


def decode(data: bytes, schema: Any = EVENT_SCHEMA) -> dict[str, Any]:  # noqa: ANN401
    """One Avro binary record back to a dict."""
    record = schemaless_reader(io.BytesIO(data), schema, None)
    if not isinstance(record, dict):
        raise ValueError(f"expected an Avro record, decoded {type(record).__name__}")
    return record
