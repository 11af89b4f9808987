"""URL paths and query parameters, parsed and checked in one place.

Every parser returns its values and a list of messages a person can act on; a bad parameter is
reported and ignored, never raised into a traceback. A value of the wrong shape (an object where
text belongs: a hand-made request, not a person's choice) raises ``checks.InvalidInput``.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from joulestream.dash_app import checks
from joulestream.dash_app.data import FILTER_FIELDS, RunFilter

GROUPS = {
    "user": "user_id",
    "model": "model",
    "region": "region",
    "source": "pricing_source",
}
"""The Fleet's stacks; ``source`` splits each rollup by what priced it (``figures.by_source``)."""
RANGES = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
ALL_TIME = "all"
CUSTOM = "custom"
RANGE_LABELS = {
    "24h": "last 24 hours",
    "7d": "last 7 days",
    "30d": "last 30 days",
    "90d": "last 90 days",
    ALL_TIME: "all time",
    CUSTOM: "custom (dates below)",
}
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
    path = checks.optional_text(pathname, "address", checks.MAX_ADDRESS_CHARS)
    parts = (path or "/").strip("/").split("/", 1)
    if parts[0] == "run" and len(parts) == 2 and parts[1]:
        return Route("run", query, run_id=unquote(parts[1]))
    if len(parts) == 1 and parts[0] in PAGES:
        return Route(PAGES[parts[0]], query)
    return Route("not_found", query)


def parse_query(search: str | None) -> dict[str, list[str]]:
    """``?user=a,b&user=c`` → ``{"user": ["a", "b", "c"]}``."""
    text = checks.optional_text(search, "address query", checks.MAX_ADDRESS_CHARS)
    parsed = parse_qs((text or "").lstrip("?"), keep_blank_values=False)
    return {
        key: [item.strip() for value in values for item in value.split(",") if item.strip()]
        for key, values in parsed.items()
    }


def parse_date(given: object, name: str) -> tuple[datetime | None, str | None]:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM`` (UTC) → (datetime, None); empty → (None, None);
    otherwise (None, message)."""
    text = checks.optional_text(given, name)
    if text is None or not text.strip():
        return None, None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None, f"{name}: {text!r} is not a date; use YYYY-MM-DD (UTC)."
    return (value if value.tzinfo else value.replace(tzinfo=UTC)), None


def filter_values(values: dict[str, Any]) -> dict[str, list[str]]:
    """The runs page's filter controls' values (keys of ``FILTER_FIELDS``), each a short list of
    texts; ``None`` (a cleared control) is an empty list."""
    unknown = sorted(set(values) - set(FILTER_FIELDS))
    if unknown:
        raise checks.InvalidInput(f"Unknown filter {unknown[0]!r}; nothing was read.")
    return {key: checks.texts(value, key) for key, value in values.items()}


def runs_filter(
    values: dict[str, Any], since: object, until: object
) -> tuple[RunFilter, list[str]]:
    """The runs table's filter from its controls' or URL's values (keys of ``FILTER_FIELDS``)."""
    checked = filter_values(values)
    messages: list[str] = []
    since_at, error = parse_date(since, "from")
    messages += [error] if error else []
    until_at, error = parse_date(until, "to")
    messages += [error] if error else []
    # A date without a time means the whole day: "to 2026-01-02" includes that day.
    if until_at is not None and isinstance(until, str) and "T" not in until:
        until_at += timedelta(days=1)
    if since_at and until_at and until_at <= since_at:
        messages.append("to: must be after from; the time range is ignored.")
        since_at = until_at = None
    fields = {FILTER_FIELDS[key]: items for key, items in checked.items() if items}
    return RunFilter(fields, since_at, until_at), messages


def url_filter_values(query: dict[str, list[str]]) -> tuple[dict[str, list[str]], list[str]]:
    """The filter values a runs URL names; unknown parameters are reported."""
    known = {*FILTER_FIELDS, "from", "to"}
    unknown = sorted(set(query) - known)
    messages = [f"Unknown parameter {key!r}; known: {', '.join(sorted(known))}." for key in unknown]
    return {key: query[key] for key in FILTER_FIELDS if key in query}, messages


def runs_search(values: dict[str, Any], since: object, until: object) -> str:
    """The runs page's address query for its filters, the inverse of ``url_filter_values``:
    ``?user=alice,bob&from=2026-06-10``, in the order of ``FILTER_FIELDS``; ``""`` with none."""
    values = filter_values(values)
    since, until = checks.optional_text(since, "from"), checks.optional_text(until, "to")
    pairs = [(key, ",".join(values[key])) for key in FILTER_FIELDS if values.get(key)]
    pairs += [(key, text.strip()) for key, text in (("from", since), ("to", until)) if text]
    pairs = [(key, text) for key, text in pairs if text]
    # Commas and colons stay readable: parse_query splits on commas anyway.
    return f"?{urlencode(pairs, quote_via=quote, safe=',:')}" if pairs else ""


def known(value: object, name: str, options: dict[str, str] | list[str], default: str) -> str:
    """A control's value when it is one of ``options``, else ``default`` (a control offers only
    its options: anything else is a hand-made request, and checked like one)."""
    text = checks.optional_text(value, name)
    return text if text is not None and text in options else default


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


def compare_ids(values: object) -> tuple[list[str], str | None]:
    """Two to five distinct run ids, in the order given."""
    ids = list(dict.fromkeys(checks.texts(values, "runs")))
    if len(ids) < MIN_COMPARE:
        return ids, f"Pick {MIN_COMPARE} to {MAX_COMPARE} runs to compare."
    if len(ids) > MAX_COMPARE:
        return ids[:MAX_COMPARE], f"At most {MAX_COMPARE} runs: showing the first {MAX_COMPARE}."
    return ids, None


def compare_search(values: object) -> str:
    """Compare's address query for the runs chosen: ``?runs=a,b`` (ids percent-encoded, commas
    between them); ``""`` with none."""
    ids = list(dict.fromkeys(checks.texts(values, "runs")))
    return f"?runs={','.join(quote(run_id, safe='') for run_id in ids)}" if ids else ""


def time_range(
    range_key: object, since: object, until: object, now: datetime
) -> tuple[datetime | None, datetime | None, list[str]]:
    """(since, until, messages) of a range control: custom dates when either is given
    (``YYYY-MM-DD``, a whole day to; or ``YYYY-MM-DDTHH:MM``), else the preset ending ``now``
    (``None`` since for all time)."""
    key = known(range_key, "range", [*RANGES, ALL_TIME, CUSTOM], ALL_TIME)
    if checks.optional_text(since, "from") or checks.optional_text(until, "to"):
        run_filter, messages = runs_filter({}, since, until)
        return run_filter.since, run_filter.until, messages
    return (None if key in (ALL_TIME, CUSTOM) else now - RANGES[key]), None, []


def range_search(
    pairs: list[tuple[str, object]], range_key: object, since: object, until: object
) -> str:
    """An address query of ``pairs`` then the range: ``range=7d``, or ``from=…&to=…`` when a
    custom date is set; ``""`` with nothing."""
    shown = [(key, checks.text(value, key)) for key, value in pairs if value]
    dates = [(k, checks.optional_text(v, k)) for k, v in (("from", since), ("to", until))]
    custom = [(k, v.strip()) for k, v in dates if v and v.strip()]
    if custom:
        shown += custom
    elif range_key:
        shown.append(("range", checks.text(range_key, "range")))
    return f"?{urlencode(shown, quote_via=quote, safe=',:')}" if shown else ""


def since(range_key: str, now: datetime) -> datetime | None:
    """The start of a fleet time range ending ``now``; ``None`` for all time."""
    return now - RANGES[range_key] if range_key in RANGES else None


# The run page's "when would it have been greenest" range, around the run's start.
GREENEST_RANGES = {
    "around-24h": (timedelta(hours=-24), timedelta(hours=24)),
    "before-24h": (timedelta(hours=-24), timedelta(0)),
    "after-24h": (timedelta(0), timedelta(hours=24)),
    "around-7d": (timedelta(days=-7), timedelta(days=7)),
    "before-7d": (timedelta(days=-7), timedelta(0)),
    "after-7d": (timedelta(0), timedelta(days=7)),
}
GREENEST_LABELS = {
    "around-24h": "24 hours either side of its start",
    "before-24h": "24 hours before its start",
    "after-24h": "24 hours after its start",
    "around-7d": "7 days either side of its start",
    "before-7d": "7 days before its start",
    "after-7d": "7 days after its start",
    CUSTOM: "dates (below)",
}
GREENEST_DEFAULT = "around-24h"
GREENEST_PARAMS = ("greenest", "greenest_from", "greenest_to")


def greenest_range(
    range_key: object, since: object, until: object, start: datetime
) -> tuple[datetime, datetime, list[str]]:
    """(first, last, messages): the starts the what-if may move the run to, both included.
    Custom dates when either is given (``YYYY-MM-DD`` is a whole day; one date alone is that
    day), else the preset around the run's ``start``. Bad dates are reported and the default
    preset is used."""
    key = known(range_key, "greenest", [*GREENEST_RANGES, CUSTOM], GREENEST_DEFAULT)
    messages: list[str] = []
    if checks.optional_text(since, "from") or checks.optional_text(until, "to"):
        dates, messages = runs_filter({}, since or until, until or since)
        if dates.since is not None and dates.until is not None:
            return dates.since, dates.until - timedelta(milliseconds=1), messages
    before, after = GREENEST_RANGES.get(key, GREENEST_RANGES[GREENEST_DEFAULT])
    return start + before, start + after, messages


def greenest_search(range_key: object, since: object, until: object) -> str:
    """The run page's address query for the what-if's range: ``?greenest=around-7d``, or
    ``?greenest_from=2026-06-01&greenest_to=2026-06-03`` when a date is set."""
    dates = zip(GREENEST_PARAMS[1:], (since, until), strict=True)
    pairs = [
        (k, text.strip()[:10])
        for k, v in dates
        if (text := checks.optional_text(v, k)) and text.strip()
    ]
    if not pairs and range_key:
        pairs = [("greenest", checks.text(range_key, "greenest"))]
    return f"?{urlencode(pairs, quote_via=quote, safe=',:')}" if pairs else ""
