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

    Primitives, records (``ROW``), arrays and string-keyed maps are mapped. Flink writes a
    nullable column as the union ``["null", T]`` (null first), so only that order is accepted.
    """
    if isinstance(avro_type, list):
        if len(avro_type) == 2 and avro_type[0] == "null":
            _check_nullable_record(avro_type[1])
            return flink_type(avro_type[1]).removesuffix(" NOT NULL")
        raise UnsupportedAvroType(
            f"union {avro_type}: only ['null', T] is readable by Flink's avro format"
        )
    if isinstance(avro_type, str) and avro_type in _PRIMITIVES:
        return f"{_PRIMITIVES[avro_type]} NOT NULL"
    if isinstance(avro_type, dict):
        kind = avro_type.get("type")
        if kind in _PRIMITIVES and "logicalType" not in avro_type:
            return flink_type(kind)
        if kind == "record":
            fields = ", ".join(f"`{name}` {sql}" for name, sql in columns(avro_type))
            return f"ROW<{fields}> NOT NULL"
        if kind == "array":
            return f"ARRAY<{flink_type(avro_type['items'])}> NOT NULL"
        if kind == "map":
            # Avro map keys are always strings.
            return f"MAP<STRING NOT NULL, {flink_type(avro_type['values'])}> NOT NULL"
    # Enums, fixed, logical types and named references are left out on purpose: Flink derives
    # e.g. an enum column as a string, which would not read the enum's binary form.
    raise UnsupportedAvroType(f"Avro type {avro_type!r} has no mapping to a Flink SQL type")


def _check_nullable_record(avro_type: Any) -> None:  # noqa: ANN401
    """Flink (through Calcite) reads every field of a nullable ROW as nullable, so a NOT NULL
    field there is read as ``["null", T]``: the bytes are misread without any error (seen on
    Flink 1.20.5). The schema must say ``["null", T]`` for those fields itself."""
    if not (isinstance(avro_type, dict) and avro_type.get("type") == "record"):
        return
    strict = [f["name"] for f in avro_type["fields"] if not _is_nullable(f["type"])]
    if strict:
        raise UnsupportedAvroType(
            f"record {avro_type.get('name')!r} is nullable, so Flink reads its fields as "
            f"nullable; declare {strict} as ['null', T] too"
        )


def _is_nullable(avro_type: Any) -> bool:  # noqa: ANN401
    return isinstance(avro_type, list) and "null" in avro_type


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
