"""Fleet's one pass over the runs: each figure as the query it replaces answered it (order,
limit, missing values). No server."""

from datetime import UTC, datetime, timedelta

import pytest

from joulestream.dash_app import data, fleet_runs

T0 = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def run(run_id: str, status: str, minutes: int | None, energy_j: float | None, **extra: object):
    """A run document with the fields the fold reads; ``minutes`` after T0 is its last event."""
    last = None if minutes is None else T0 + timedelta(minutes=minutes)
    return {"run_id": run_id, "status": status, "last_event_at": last, "energy_j": energy_j,
            **extra}  # fmt: skip


RUNS = [
    run("done", "completed", 5, 1000.0),
    run("old", "running", 1, 250.5),
    run("new", "running", 9, 4000.0, cpu_methods=["rapl"], gpu_methods=["tdp_model"]),
    run("silent", "running", None, None, intensity_fallback=True),
    run("gone", "lost", 3, 0.25, ram_methods=["estimate"]),
    run("tie", "running", 1, 250.5),
    run("metered", "completed", 7, 64.0, cpu_methods=["rapl"], intensity_fallback=False),
]


def ids(runs: list[dict[str, object]]) -> list[str]:
    return [str(r["run_id"]) for r in runs]


def test_fold_counts_sums_and_orders_as_the_queries_did():
    """Every run counted; energy summed (a run without it adds nothing); running runs newest
    first, a run never heard from last, ties in the order read; lost runs counted; marked runs
    only; the top runs by energy, a run without energy last; the newest event of any run."""
    folded = fleet_runs.fold(RUNS, top=5)
    assert folded.count == 7
    assert folded.energy_j == 1000.0 + 250.5 + 4000.0 + 0.25 + 250.5 + 64.0
    assert ids(folded.running) == ["new", "old", "tie", "silent"]
    assert folded.lost == 1
    assert ids(folded.flagged) == ["new", "silent", "gone"]
    assert ids(folded.top) == ["new", "done", "old", "tie", "metered"]
    assert ids(fleet_runs.fold(RUNS, top=10).top) == [
        "new", "done", "old", "tie", "metered", "gone", "silent"
    ]  # fmt: skip
    assert folded.last_event_at == T0 + timedelta(minutes=9)


def test_fold_of_no_runs_is_empty():
    """No runs: nothing counted, no newest event."""
    assert fleet_runs.fold([]) == fleet_runs.FleetRuns(
        count=0, energy_j=0.0, running=[], lost=0, flagged=[], top=[], last_event_at=None
    )


def test_fold_of_runs_never_heard_from_has_no_newest_event():
    """Runs without ``last_event_at`` give none, as the newest-event query's null."""
    folded = fleet_runs.fold([run("a", "running", None, 1.0), run("b", "completed", None, 2.0)])
    assert (folded.last_event_at, ids(folded.running), ids(folded.top)) == (None, ["a"], ["b", "a"])


def test_running_and_lost_stop_at_the_queries_limit(monkeypatch: pytest.MonkeyPatch):
    """At most ``data.MAX_RUNS`` running runs (the newest) and lost runs, as the queries'
    ``limit``; the count and the sum are of every run."""
    monkeypatch.setattr(data, "MAX_RUNS", 2)
    runs = [run(f"r{m}", "running", m, 1.0) for m in range(4)]
    runs += [run(f"l{m}", "lost", m, 1.0) for m in range(3)]
    folded = fleet_runs.fold(runs)
    assert (ids(folded.running), folded.lost) == (["r3", "r2"], 2)
    assert (folded.count, folded.energy_j) == (7, 7.0)
