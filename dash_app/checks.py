"""The shape of every value a browser sends that the dashboard acts on.

A Dash callback's inputs are whatever JSON the request carries, not what the page's controls can
produce: a run id may arrive as ``{"$ne": null}``, and a dict in a MongoDB filter is an operator.
So every value that reaches a query (``data.py``) or a lookup (``params.py``) passes through here
first: text of bounded length, or a short list of such texts. Anything else raises
``InvalidInput``, whose message names the value and says what was expected (never echoing the
value itself, which may be large or hostile); the pages show it and read nothing.
"""

MAX_TEXT_CHARS = 256
"""Longest identifier or label the dashboard looks up, characters: the emitter's own limit."""
MAX_ADDRESS_CHARS = 4096
"""Longest address path or query (a run id percent-encoded, or many filter values)."""
MAX_ITEMS = 50
"""Most values in one list: a filter's choices or the runs to compare."""


class InvalidInput(ValueError):
    """A value that is not what the dashboard accepts; nothing was read for it. Catch it where a
    callback shows messages, beside ``PyMongoError``."""


def _kind(value: object) -> str:
    if isinstance(value, str):
        return f"{len(value)} characters"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def text(value: object, name: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """``value`` when it is a string of at most ``max_chars`` characters."""
    if isinstance(value, str) and len(value) <= max_chars:
        return value
    raise InvalidInput(
        f"{name}: expected text of at most {max_chars} characters, got {_kind(value)}; "
        "nothing was read for it."
    )


def optional_text(value: object, name: str, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """``None``, or ``value`` checked by ``text``."""
    return None if value is None else text(value, name, max_chars)


def texts(value: object, name: str, max_items: int = MAX_ITEMS) -> list[str]:
    """A list (``None``: empty) of at most ``max_items`` texts, each checked by ``text``."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or len(value) > max_items:
        raise InvalidInput(
            f"{name}: expected a list of at most {max_items} texts, got {_kind(value)}; "
            "nothing was read for it."
        )
    return [text(item, f"{name}[{index}]") for index, item in enumerate(value)]


def sort_by(value: object, columns: list[str]) -> list[tuple[str, bool]]:
    """A DataTable's ``sort_by`` (``[{"column_id": …, "direction": "asc"|"desc"}]``, ``None``:
    unsorted) as (column, descending) pairs, each column one of ``columns``."""
    if value is None:
        return []
    if isinstance(value, list) and len(value) <= len(columns):
        keys = []
        for item in value:
            if not isinstance(item, dict) or item.get("direction") not in ("asc", "desc"):
                break
            if item.get("column_id") not in columns:
                break
            keys.append((str(item["column_id"]), item["direction"] == "desc"))
        else:
            return keys
    raise InvalidInput(
        f"table sort: expected a list of at most {len(columns)} columns with a direction, got "
        f"{_kind(value)}; nothing was read for it."
    )
