"""How the statements quote what they are built from: SQL string literals, identifiers and the
options of a ``WITH`` clause."""

from collections.abc import Iterable, Mapping


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A quoted column name: ``model``, ``epoch`` and ``step`` are reserved words."""
    return "`" + name.replace("`", "``") + "`"


def identifiers(names: Iterable[str]) -> str:
    return ", ".join(identifier(n) for n in names)


def with_options(options: Mapping[str, str]) -> str:
    """The body of a ``WITH (…)`` clause, one option a line."""
    return ",\n".join(f"  {literal(k)} = {literal(v)}" for k, v in options.items())
