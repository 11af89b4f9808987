"""How the job's SQL quotes what it is built from: string and DOUBLE literals, identifiers and
the options of a ``WITH`` clause. A module of its own, outside ``sql/``, so that the pricing and
the checks, which ``sql/`` imports, quote with it too."""

from collections.abc import Iterable, Mapping


def literal(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def double(value: float) -> str:
    """A DOUBLE literal (Flink SQL reads ``1.5`` as a DECIMAL)."""
    return f"CAST({value!r} AS DOUBLE)"


def identifier(name: str) -> str:
    """A quoted column name: ``model``, ``epoch`` and ``step`` are reserved words."""
    return "`" + name.replace("`", "``") + "`"


def identifiers(names: Iterable[str]) -> str:
    return ", ".join(identifier(n) for n in names)


def with_options(options: Mapping[str, str]) -> str:
    """The body of a ``WITH (…)`` clause, one option a line."""
    return ",\n".join(f"  {literal(k)} = {literal(v)}" for k, v in options.items())
