"""Avro's JSON encoding, converted by functions built once from a schema.

In Avro's JSON form a non-null union value is tagged with its branch: ``{"double": 1.5}``, or the
record's full name for a record. ``tagger`` turns a plain record into that form and ``untagger``
turns it back, so the spool is written and read with the standard ``json`` module, about ten
times faster than fastavro's generic JSON codec. Values are not checked here: the spool writes
records that were valid already, and a record read back is checked by encoding it.
"""

from collections.abc import Callable
from typing import Any

Convert = Callable[[Any], Any]

_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string", "enum")
_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {
    "boolean": bool,
    "int": int,
    "long": int,
    "float": (float, int),
    "double": (float, int),
    "string": str,
    "bytes": bytes,
    "enum": str,
    "record": dict,
    "map": dict,
    "array": list,
}


def _identity(value: Any) -> Any:  # noqa: ANN401
    return value


class _Builder:
    def __init__(self, tagged: bool) -> None:
        self.tagged = tagged
        self.named: dict[str, Any] = {}

    def resolve(self, schema: Any) -> Any:  # noqa: ANN401
        if isinstance(schema, str) and schema in self.named:
            return self.named[schema]
        if isinstance(schema, dict) and "name" in schema:
            self.named[schema["name"]] = schema
        return schema

    def build(self, schema: Any) -> Convert:  # noqa: ANN401
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return self.union(schema)
        kind = schema["type"] if isinstance(schema, dict) else schema
        if kind in _PRIMITIVES or kind == "fixed":
            return _identity
        if kind == "record":
            fields = [(f["name"], self.build(f["type"])) for f in schema["fields"]]

            def record(value: dict[str, Any]) -> dict[str, Any]:
                return {name: convert(value.get(name)) for name, convert in fields}

            return record
        if kind == "array":
            item = self.build(schema["items"])
            return lambda value: [item(v) for v in value]
        if kind == "map":
            entry = self.build(schema["values"])
            return lambda value: {k: entry(v) for k, v in value.items()}
        raise NotImplementedError(f"no JSON conversion for Avro type {kind!r}")

    def union(self, branches: list[Any]) -> Convert:
        options = []
        for branch in (self.resolve(b) for b in branches):
            kind = branch["type"] if isinstance(branch, dict) else branch
            if kind == "null":
                continue
            tag = branch["name"] if kind in ("record", "enum", "fixed") else kind
            options.append((tag, _PYTHON_TYPES.get(kind, object), self.build(branch)))
        if self.tagged:

            def tag(value: Any) -> Any:  # noqa: ANN401
                if value is None:
                    return None
                for name, python_type, convert in options:
                    if isinstance(value, python_type):
                        return {name: convert(value)}
                raise TypeError(f"no branch of the union takes {value!r}")

            return tag
        by_tag = {name: convert for name, _, convert in options}

        def untag(value: Any) -> Any:  # noqa: ANN401
            if value is None:
                return None
            if not isinstance(value, dict) or len(value) != 1:
                raise ValueError(f"expected a union value tagged with its branch, got {value!r}")
            ((name, inner),) = value.items()
            return by_tag[name](inner)

        return untag


def tagger(schema: Any) -> Convert:  # noqa: ANN401
    """A function from a plain record to Avro's JSON form (tagged unions)."""
    return _Builder(tagged=True).build(schema)


def untagger(schema: Any) -> Convert:  # noqa: ANN401
    """A function from Avro's JSON form back to a plain record."""
    return _Builder(tagged=False).build(schema)
