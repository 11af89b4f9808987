"""Values a browser sends are checked before any query: text of bounded length or a short list of
texts; anything else is refused with a message and nothing is read."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pymongo.database import Database

from joulestream.dash_app import checks, data, params
from joulestream.dash_app.pages import compare, fleet, run, runs

OBJECT = "expected text of at most 256 characters, got an object; nothing was read for it."
OPERATORS: list[Any] = [{"$ne": None}, {"$regex": ".*"}, {"$gt": ""}]


class NoCollection:
    def __init__(self, name: str, touched: list[str]) -> None:
        self.name, self.touched = name, touched

    def __getattr__(self, method: str) -> Any:
        def query(*_args: Any, **_kwargs: Any) -> Any:
            self.touched.append(f"{self.name}.{method}")
            raise AssertionError(f"{self.name}.{method} was called")

        return query


class NoDatabase:
    """A database that records each query (``collection.method``) and answers none: a test
    that reaches one has let a value through."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> NoCollection:
        return NoCollection(name, self.touched)

    def __getitem__(self, name: str) -> NoCollection:
        return NoCollection(name, self.touched)

    def command(self, name: str) -> Any:
        self.touched.append(name)
        raise AssertionError(f"command {name} was sent")


def no_database() -> tuple[NoDatabase, Database[dict[str, Any]]]:
    fake = NoDatabase()
    return fake, cast(Database[dict[str, Any]], fake)


def test_text_accepts_bounded_strings_only():
    """A string up to 256 characters passes as it is; anything else is refused by name."""
    assert checks.text("run-a", "run id") == "run-a"
    assert checks.text("x" * 256, "run id") == "x" * 256
    assert checks.optional_text(None, "from") is None
    refused = {}
    for value in ({"$ne": None}, ["a"], 7, True, None, "x" * 257):
        with pytest.raises(checks.InvalidInput) as error:
            checks.text(value, "run id")
        refused[repr(value)] = str(error.value)
    assert refused == {
        "{'$ne': None}": f"run id: {OBJECT}",
        "['a']": "run id: expected text of at most 256 characters, got a list of 1; "
        "nothing was read for it.",
        "7": "run id: expected text of at most 256 characters, got a number; "
        "nothing was read for it.",
        "True": "run id: expected text of at most 256 characters, got a boolean; "
        "nothing was read for it.",
        "None": "run id: expected text of at most 256 characters, got NoneType; "
        "nothing was read for it.",
        "'" + "x" * 257 + "'": "run id: expected text of at most 256 characters, got 257 "
        "characters; nothing was read for it.",
    }


def test_texts_accepts_short_lists_of_texts_only():
    """None is an empty list; a string, an object, a long list or a list holding an object is
    refused, the item named by its index."""
    assert checks.texts(None, "user") == []
    assert checks.texts(["alice", "bob"], "user") == ["alice", "bob"]
    assert checks.texts(["u"] * 50, "user") == ["u"] * 50
    with pytest.raises(checks.InvalidInput) as as_string:
        checks.texts("alice", "user")
    assert str(as_string.value) == (
        "user: expected a list of at most 50 texts, got 5 characters; nothing was read for it."
    )
    with pytest.raises(checks.InvalidInput) as too_many:
        checks.texts(["u"] * 51, "user")
    assert str(too_many.value) == (
        "user: expected a list of at most 50 texts, got a list of 51; nothing was read for it."
    )
    with pytest.raises(checks.InvalidInput) as operator_inside:
        checks.texts(["alice", {"$regex": "."}], "user")
    assert str(operator_inside.value) == f"user[1]: {OBJECT}"


def test_sort_by_takes_known_columns_with_a_direction():
    """A DataTable sort is a short list of known columns, each ascending or descending."""
    columns = ["run", "energy_kwh"]
    assert checks.sort_by(None, columns) == []
    given = [
        {"column_id": "energy_kwh", "direction": "desc"},
        {"column_id": "run", "direction": "asc"},
    ]
    assert checks.sort_by(given, columns) == [("energy_kwh", True), ("run", False)]
    for bad in (
        [{"column_id": "energy_j", "direction": "asc"}],
        [{"column_id": "run", "direction": "sideways"}],
        [{"column_id": {"$ne": None}, "direction": "asc"}],
        ["run"],
        {"column_id": "run"},
        [{"column_id": "run", "direction": "asc"}] * 3,
    ):
        with pytest.raises(
            checks.InvalidInput, match=r"^table sort: expected a list of at most 2 "
        ):
            checks.sort_by(bad, columns)


@pytest.mark.parametrize("operator", OPERATORS)
def test_every_query_refuses_an_operator_before_reading(operator):
    """A run id or a filter value that is an object (a MongoDB operator) never reaches the
    database: each query of data.py raises first."""
    fake, db = no_database()
    calls: list[Callable[[], object]] = [
        lambda: data.get_run(db, operator),
        lambda: data.run_windows(db, operator),
        lambda: data.run_epochs(db, operator),
        lambda: data.run_late_energy_j(db, operator),
        lambda: data.get_runs(db, [operator]),
        lambda: data.windows_of_runs(db, operator),
        lambda: data.epochs_of_runs(db, ["run-a", operator]),
        lambda: data.list_runs(db, data.RunFilter({"user_id": [operator]})),
        lambda: data.list_runs(db, data.RunFilter({"user_id": operator})),
    ]
    for call in calls:
        with pytest.raises(checks.InvalidInput):
            call()
    assert fake.touched == []


def test_a_filter_on_an_unknown_field_is_refused():
    """Only the runs table's filter fields can be queried: a ``$where`` key is refused."""
    fake, db = no_database()
    with pytest.raises(checks.InvalidInput) as refused:
        data.list_runs(db, data.RunFilter({"$where": ["sleep(1000)"]}))
    assert str(refused.value) == "'$where' is not a field the runs can be filtered by."
    assert fake.touched == []


def test_page_views_refuse_objects_with_the_message_and_read_nothing():
    """Each page's view, given what a hand-made request can send, raises ``InvalidInput`` with
    a message naming the value, before any query."""
    fake, db = no_database()
    now = datetime(2026, 6, 10, tzinfo=UTC)
    cases: dict[str, Callable[[], object]] = {
        "run": lambda: run.view(db, {"$ne": None}),  # type: ignore[arg-type]
        "windows": lambda: run.windows_view(db, {"$ne": None}),  # type: ignore[arg-type]
        "what-if": lambda: run.what_if(db, "run-a", ["SE"]),
        "compare": lambda: compare.view(db, {"$in": ["a", "b"]}),
        "runs filter": lambda: runs.view(db, {"user": {"$ne": None}}, None, None),
        "runs date": lambda: runs.view(db, {}, {"$gt": ""}, None),
        "runs unknown": lambda: runs.view(db, {"colour": ["red"]}, None, None),
        "fleet group": lambda: fleet.view(db, {"$ne": None}, "7d", now),  # type: ignore[arg-type]
        "fleet range": lambda: fleet.view(db, "user", ["7d"], now),  # type: ignore[arg-type]
    }
    messages = {}
    for name, call in cases.items():
        with pytest.raises(checks.InvalidInput) as refused:
            call()
        messages[name] = str(refused.value)
    assert messages == {
        "run": f"run id: {OBJECT}",
        "windows": f"run id: {OBJECT}",
        "what-if": "region: expected text of at most 256 characters, got a list of 1; "
        "nothing was read for it.",
        "compare": "runs: expected a list of at most 50 texts, got an object; "
        "nothing was read for it.",
        "runs filter": "user: expected a list of at most 50 texts, got an object; "
        "nothing was read for it.",
        "runs date": f"from: {OBJECT}",
        "runs unknown": "Unknown filter 'colour'; nothing was read.",
        "fleet group": f"group: {OBJECT}",
        "fleet range": "range: expected text of at most 256 characters, got a list of 1; "
        "nothing was read for it.",
    }
    assert fake.touched == []


def test_addresses_of_the_wrong_shape_are_refused():
    """A path or query that is not text (or longer than 4,096 characters) is refused; a known
    control value passes and an unknown one falls back to the default."""
    with pytest.raises(checks.InvalidInput, match=r"^address: expected text of at most 4096 "):
        params.route({"$ne": None}, "")  # type: ignore[arg-type]
    with pytest.raises(checks.InvalidInput, match=r"^address query: expected text "):
        params.route("/runs", "?" + "u" * 4096)
    assert params.route("/run/" + "%41" * 300, None).run_id == "A" * 300
    assert params.known("model", "group", params.GROUPS, "user") == "model"
    assert params.known("colour", "group", params.GROUPS, "user") == "user"
    assert params.known(None, "group", params.GROUPS, "user") == "user"
    assert params.filter_values({"user": None, "status": ["running"]}) == {
        "user": [],
        "status": ["running"],
    }
