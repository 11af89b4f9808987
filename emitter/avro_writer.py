"""Avro binary writers compiled from a schema into straight-line Python.

fastavro resolves every union by trying its branches against the value; the event contract has
about thirty ``["null", T]`` unions, so a generic writer spends most of its time there. A writer
generated for one schema knows each field's type up front: a nullable field costs one ``is None``
test. ``compile_writer`` supports the types the contracts use (null, boolean, int, long, float,
double, bytes, string, record, array, map, enum and unions of those that differ in Python type);
anything else raises ``NotImplementedError`` when compiling, never when encoding.

A value the writer cannot encode raises the usual ``TypeError``/``ValueError``/``KeyError``;
``joulestream.codec`` then asks fastavro to encode it, so the caller sees fastavro's error message.
Tests check byte equality with fastavro on the fleet's events.
"""

import struct
from collections.abc import Callable
from typing import Any

Writer = Callable[[dict[str, Any]], bytes]

_PYTHON_TYPES = {
    "boolean": "bool",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "string": "str",
    "bytes": "bytes",
    "record": "dict",
    "map": "dict",
    "array": "list",
}


def _varint(n: int) -> bytes:
    """Avro ``long``: zig-zag, then base-128 little-endian."""
    if not -(1 << 63) <= n < 1 << 63:
        raise ValueError(f"{n} is out of range for an Avro long")
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


# Small non-negative and negative numbers (counts, indexes, lengths) are the common case.
_SMALL = {n: _varint(n) for n in range(-64, 1024)}


def _long(n: int) -> bytes:
    encoded = _SMALL.get(n)
    return encoded if encoded is not None and type(n) is int else _varint(n)


def _int(n: int) -> bytes:
    if not -(1 << 31) <= n < 1 << 31:
        raise ValueError(f"{n} is out of range for an Avro int")
    return _long(n)


_LENGTHS = tuple(_SMALL[n] for n in range(1024))


def _string(s: str) -> bytes:
    data = s.encode()
    size = len(data)
    return (_LENGTHS[size] if size < 1024 else _varint(size)) + data


def _bytes(b: bytes) -> bytes:
    if not isinstance(b, bytes | bytearray):
        raise TypeError(f"expected bytes, got {type(b).__name__}")
    return _long(len(b)) + bytes(b)


def _boolean(b: bool) -> bytes:
    if not isinstance(b, bool):
        raise TypeError(f"expected a bool, got {type(b).__name__}")
    return b"\x01" if b else b"\x00"


_double = struct.Struct("<d").pack
_float = struct.Struct("<f").pack
# A union's branch index and a double in one call: the common ``["null", "double"]`` case.
_tagged_double = struct.Struct("<Bd").pack


def _check_number(x: float) -> float:
    """struct packs a bool as a number; Avro doubles are numbers only."""
    if type(x) is bool:
        raise TypeError("expected a number, got bool")
    return x


class _Compiler:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.names = 0
        self.named: dict[str, Any] = {}

    def fresh(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def constant(self, value: Any) -> str:  # noqa: ANN401
        name = self.fresh("_c")
        self.constants[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def resolve(self, schema: Any) -> Any:  # noqa: ANN401
        if isinstance(schema, str) and schema in self.named:
            return self.named[schema]
        if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
            self.named[schema["name"]] = schema
        return schema

    def write(self, schema: Any, value: str, indent: int) -> None:  # noqa: ANN401
        """Lines that append the encoding of the expression ``value`` to ``out``."""
        schema = self.resolve(schema)
        if isinstance(schema, list):
            self.union(schema, value, indent)
            return
        kind = schema["type"] if isinstance(schema, dict) else schema
        if kind == "null":
            self.emit(indent, f"if {value} is not None: raise TypeError('expected None')")
        elif kind == "string":
            # Inline: strings are most of an event's fields.
            data = self.fresh("s")
            self.emit(indent, f"{data} = {value}.encode()")
            self.emit(
                indent,
                f"out += _LENGTHS[len({data})] if len({data}) < 1024 else _long(len({data}))",
            )
            self.emit(indent, f"out += {data}")
        elif kind in ("int", "long", "bytes", "boolean"):
            self.emit(indent, f"out += _{kind}({value})")
        elif kind == "double":
            self.emit(indent, f"out += _double(_check_number({value}))")
        elif kind == "float":
            self.emit(indent, f"out += _float(_check_number({value}))")
        elif kind == "enum":
            index = self.constant({symbol: i for i, symbol in enumerate(schema["symbols"])})
            self.emit(indent, f"out += _long({index}[{value}])")
        elif kind == "record":
            record = self.fresh("r")
            self.emit(indent, f"{record} = {value}")
            for field in schema["fields"]:
                if field.get("default", ...) is None:
                    item = f"{record}.get({field['name']!r})"
                elif "default" in field:
                    default = self.constant(field["default"])
                    item = f"{record}.get({field['name']!r}, {default})"
                else:
                    item = f"{record}[{field['name']!r}]"
                self.write(field["type"], item, indent)
        elif kind in ("array", "map"):
            self.container(schema, value, indent)
        else:
            raise NotImplementedError(f"no compiled writer for Avro type {kind!r}")

    def container(self, schema: dict[str, Any], value: str, indent: int) -> None:
        items = self.fresh("a")
        self.emit(indent, f"{items} = {value}")
        self.emit(indent, f"if {items}:")
        self.emit(indent + 1, f"out += _long(len({items}))")
        item = self.fresh("i")
        if schema["type"] == "array":
            self.emit(indent + 1, f"if not isinstance({items}, list | tuple): raise TypeError")
            self.emit(indent + 1, f"for {item} in {items}:")
            self.write(schema["items"], item, indent + 2)
        else:
            key = self.fresh("k")
            self.emit(indent + 1, f"for {key}, {item} in {items}.items():")
            self.emit(indent + 2, f"out += _string({key})")
            self.write(schema["values"], item, indent + 2)
        self.emit(indent, "out += b'\\x00'")

    def union(self, branches: list[Any], value: str, indent: int) -> None:
        branches = [self.resolve(b) for b in branches]
        kinds = [b["type"] if isinstance(b, dict) else b for b in branches]
        python_types = [_PYTHON_TYPES.get(k) for k in kinds if k != "null"]
        numbers = {"int", "long", "float", "double"} & set(kinds)
        if (
            len(set(python_types)) != len(python_types)
            or None in python_types
            or ({"int", "long"} & numbers and {"float", "double"} & numbers)
        ):
            raise NotImplementedError(f"no compiled writer for the union {kinds}")
        v = self.fresh("u")
        self.emit(indent, f"{v} = {value}")
        keyword = "if"
        for index, (branch, kind) in enumerate(zip(branches, kinds, strict=True)):
            if kind == "null":
                test = f"{v} is None"
            elif kind in ("int", "long"):
                test = f"type({v}) is int"
            elif kind in ("float", "double"):
                # An int is a valid double (as in fastavro); no integer branch competes here.
                test = f"type({v}) is float or type({v}) is int"
            else:
                test = f"isinstance({v}, {_PYTHON_TYPES[kind]})"
            self.emit(indent, f"{keyword} {test}:")
            if kind == "double" and index < 64:
                self.emit(indent + 1, f"out += _tagged_double({2 * index}, {v})")
            else:
                self.emit(indent + 1, f"out += {_SMALL[index]!r}")
                if kind != "null":
                    self.write(branch, v, indent + 1)
            keyword = "elif"
        self.emit(indent, "else:")
        message = self.constant(f"no branch of the union {kinds} takes ")
        self.emit(indent + 1, f"raise TypeError({message} + repr({v}))")


def compile_writer(schema: Any) -> Writer:  # noqa: ANN401
    """A function from a record dict to its schemaless Avro binary encoding."""
    compiler = _Compiler()
    compiler.write(schema, "record", 1)
    helpers: dict[str, Any] = {
        "_long": _long,
        "_int": _int,
        "_string": _string,
        "_LENGTHS": _LENGTHS,
        "_bytes": _bytes,
        "_boolean": _boolean,
        "_double": _double,
        "_float": _float,
        "_tagged_double": _tagged_double,
        "_check_number": _check_number,
        **compiler.constants,
    }
    # Helpers bound as default arguments are locals inside the function: faster than globals.
    parameters = ", ".join(f"{name}={name}" for name in helpers)
    compiler.lines[:0] = [f"def write(record, {parameters}):", "    out = bytearray()"]
    compiler.emit(1, "return bytes(out)")
    namespace = dict(helpers)
    exec(compile("\n".join(compiler.lines), "<avro writer>", "exec"), namespace)  # noqa: S102
    writer: Writer = namespace["write"]
    return writer
