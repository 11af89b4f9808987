"""Flink SQL columns from an Avro record schema.

Flink's ``avro`` format derives its Avro schema from the table's columns: field order and
nullability must match what the writer used, byte for byte. Generating the columns from the
``.avsc`` keeps the two from drifting apart.
"""

from typing import Any

_PRIMITIVES = {
    "string": "STRING",
    "long": "BIGINT",
    "int": "INT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "bytes": "BYTES",
}


class UnsupportedAvroType(ValueError):
    """The schema uses an Avro type that this generator does not map to Flink SQL."""


def flink_type(avro_type: Any) -> str:  # noqa: ANN401 (an Avro type is str, list or dict)
    """The Flink SQL type for one Avro field type, ``NOT NULL`` unless it is a union with null.

    Flink writes a nullable column as the union ``["null", T]`` (null first), so only that order
    is accepted.
    """
    if isinstance(avro_type, list):
        if len(avro_type) == 2 and avro_type[0] == "null":
            return flink_type(avro_type[1]).removesuffix(" NOT NULL")
        raise UnsupportedAvroType(
            f"union {avro_type}: only ['null', T] is readable by Flink's avro format"
        )
    if isinstance(avro_type, str) and avro_type in _PRIMITIVES:
        return f"{_PRIMITIVES[avro_type]} NOT NULL"
    raise UnsupportedAvroType(f"Avro type {avro_type!r} has no mapping to a Flink SQL type")


def columns(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, Flink SQL type) for every field of an Avro record schema, in order."""
    if schema.get("type") != "record":
        raise UnsupportedAvroType(
            f"expected an Avro record schema, got type {schema.get('type')!r}"
        )
    return [(field["name"], flink_type(field["type"])) for field in schema["fields"]]


def column_ddl(schema: dict[str, Any]) -> str:
    """The column list of a ``CREATE TABLE`` statement, one column per line."""
    return ",\n".join(f"  `{name}` {sql_type}" for name, sql_type in columns(schema))
