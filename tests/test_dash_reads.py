"""The runs table's filter options taken from the runs it lists when those are every run, and
read apart otherwise."""

from datetime import UTC, datetime

from joulestream.dash_app import data

RUNS: list[data.Document] = [
    {"run_id": "a", "user_id": "bob", "model": "bert", "region": "SE", "status": "running"},
    {"run_id": "b", "user_id": "alice", "model": "bert", "region": None, "status": "completed"},
    {"run_id": "c", "user_id": "bob", "project": "nlp", "framework": "jax", "dataset": "c4"},
]


def test_options_of_the_listed_runs_are_their_distinct_values_sorted():
    """Each filter field's distinct values among the runs, sorted; a missing or null field adds
    nothing."""
    assert data.options_of(RUNS) == {
        "user_id": ["alice", "bob"],
        "project": ["nlp"],
        "model": ["bert"],
        "dataset": ["c4"],
        "framework": ["jax"],
        "region": ["SE"],
        "status": ["completed", "running"],
    }
    assert data.options_of([]) == {field: [] for field in data.FILTER_FIELDS.values()}


def test_the_listed_runs_are_every_run_only_unfiltered_and_under_the_limit():
    """No filter (or empty values) and fewer runs than the limit: every run. A field value, a
    date, or a full page of runs: maybe not."""
    assert data.lists_every_run(None, RUNS)
    assert data.lists_every_run(data.RunFilter({}), RUNS)
    assert data.lists_every_run(data.RunFilter({"user_id": []}), RUNS)
    assert not data.lists_every_run(data.RunFilter({"user_id": ["bob"]}), RUNS)
    day = datetime(2026, 11, 30, tzinfo=UTC)
    assert not data.lists_every_run(data.RunFilter({}, since=day), RUNS)
    assert not data.lists_every_run(data.RunFilter({}, until=day), RUNS)
    full_page: list[data.Document] = [{"run_id": str(i)} for i in range(data.MAX_RUNS)]
    assert not data.lists_every_run(None, full_page)
    assert data.lists_every_run(None, full_page[1:])
