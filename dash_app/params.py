"""URL paths and query parameters, parsed and checked in one place.

Every parser returns its values and a list of messages a person can act on; a bad parameter is
reported and ignored, never raised into a traceback.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, unquote, urlencode

from dash_app.data import FILTER_FIELDS, RunFilter

GROUPS = {"user": "user_id", "model": "model", "region": "region"}
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
ALL_TIME = "all"
MIN_COMPARE, MAX_COMPARE = 2, 5


@dataclass(frozen=True)
class Route:
    """A page and what its URL says."""

    page: str  # fleet, runs, run, compare, leaderboards or not_found
    query: dict[str, list[str]] = field(default_factory=dict)
    run_id: str | None = None


PAGES = {"": "fleet", "runs": "runs", "compare": "compare", "leaderboards": "leaderboards"}


def route(pathname: str | None, search: str | None) -> Route:
    """``/run/<run id>`` and the pages of ``PAGES``; anything else is ``not_found``."""
    query = parse_query(search)
    parts = (pathname or "/").strip("/").split("/", 1)
    if parts[0] == "run" and len(parts) == 2 and parts[1]:
        return Route("run", query, run_id=unquote(parts[1]))
    if len(parts) == 1 and parts[0] in PAGES:
        return Route(PAGES[parts[0]], query)
    return Route("not_found", query)


def parse_query(search: str | None) -> dict[str, list[str]]:
    """``?user=a,b&user=c`` → ``{"user": ["a", "b", "c"]}``."""
    parsed = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    return {
        key: [item.strip() for value in values for item in value.split(",") if item.strip()]
        for key, values in parsed.items()
    }


def parse_date(text: str | None, name: str) -> tuple[datetime | None, str | None]:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (UTC) → (datetime, None); empty → (None, None);
    otherwise (None, message)."""
    if text is None or not text.strip():
        return None, None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None, f"{name}: {text!r} is not a date; use YYYY-MM-DD (UTC)."
    return (value if value.tzinfo else value.replace(tzinfo=UTC)), None


def runs_filter(
    values: dict[str, list[str]], since: str | None, until: str | None
) -> tuple[RunFilter, list[str]]:
    """The runs table's filter from its controls' or URL's values (keys of ``FILTER_FIELDS``)."""
    messages: list[str] = []
    since_at, error = parse_date(since, "from")
    messages += [error] if error else []
    until_at, error = parse_date(until, "to")
    messages += [error] if error else []
    # A date without a time means the whole day: "to 2026-01-02" includes that day.
    if until_at is not None and until is not None and "T" not in until:
        until_at += timedelta(days=1)
    if since_at and until_at and until_at <= since_at:
        messages.append("to: must be after from; the time range is ignored.")
        since_at = until_at = None
    fields = {FILTER_FIELDS[key]: list(items) for key, items in values.items() if items}
    return RunFilter(fields, since_at, until_at), messages


def url_filter_values(query: dict[str, list[str]]) -> tuple[dict[str, list[str]], list[str]]:
    """The filter values a runs URL names; unknown parameters are reported."""
    known = {*FILTER_FIELDS, "from", "to"}
    unknown = sorted(set(query) - known)
    messages = [f"Unknown parameter {key!r}; known: {', '.join(sorted(known))}." for key in unknown]
    return {key: query[key] for key in FILTER_FIELDS if key in query}, messages


def runs_search(values: dict[str, list[str]], since: str | None, until: str | None) -> str:
    """The runs page's address query for its filters, the inverse of ``url_filter_values``:
    ``?user=alice,bob&from=2026-06-10``, in the order of ``FILTER_FIELDS``; ``""`` with none."""
    pairs = [(key, ",".join(values[key])) for key in FILTER_FIELDS if values.get(key)]
    pairs += [(key, text.strip()) for key, text in (("from", since), ("to", until)) if text]
    pairs = [(key, text) for key, text in pairs if text]
    # Commas and colons stay readable: parse_query splits on commas anyway.
    return f"?{urlencode(pairs, quote_via=quote, safe=',:')}" if pairs else ""


def choice(
    query: dict[str, list[str]], name: str, options: list[str], default: str
) -> tuple[str, str | None]:
    """One value of ``name`` among ``options``; ``default`` with a message when it is not one."""
    values = query.get(name)
    if not values:
        return default, None
    if values[0] in options:
        return values[0], None
    return default, f"{name}: {values[0]!r} is not one of {', '.join(options)}; showing {default}."


def compare_ids(values: list[str] | None) -> tuple[list[str], str | None]:
    """Two to five distinct run ids, in the order given."""
    ids = list(dict.fromkeys(values or []))
    if len(ids) < MIN_COMPARE:
        return ids, f"Pick {MIN_COMPARE} to {MAX_COMPARE} runs to compare."
    if len(ids) > MAX_COMPARE:
        return ids[:MAX_COMPARE], f"At most {MAX_COMPARE} runs: showing the first {MAX_COMPARE}."
    return ids, None


def since(range_key: str, now: datetime) -> datetime | None:
    """The start of a fleet time range ending ``now``; ``None`` for all time."""
    return now - RANGES[range_key] if range_key in RANGES else None
