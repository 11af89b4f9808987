"""The dashboard's data access and page callbacks on the MongoDB-compatible server, with a small
seeded fleet (tests/integration/dashboard_fleet.py), an empty database and a server that is down."""

from datetime import UTC, datetime

import pytest
from pymongo import MongoClient

from joulestream.dash_app import app as dash_app
from joulestream.dash_app import data
from joulestream.dash_app.pages import compare, fleet, leaderboards, run, runs
from tests.integration.conftest import free_ports
from tests.integration.dashboard_env import WRITES, Commands, seeded_database

NOW = datetime(2026, 6, 10, 12, 30, 20, tzinfo=UTC)


@pytest.fixture
def commands():
    return Commands()


@pytest.fixture
def db(services, commands):
    with seeded_database(services.mongo_uri, NOW, commands) as database:
        yield database
    assert not WRITES & set(commands.names), commands.names


@pytest.fixture
def empty_db(services, commands):
    with seeded_database(services.mongo_uri, None, commands) as database:
        yield database


def texts(component) -> list[str]:
    """Every string inside a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, list | tuple):
        return [t for child in component for t in texts(child)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def test_data_queries_return_the_seeded_documents(db):
    """Each query of data.py returns the documents it names, in its order."""
    assert [r["run_id"] for r in data.list_runs(db)] == ["run-a", "run-b"]
    only_bob = data.RunFilter({"user_id": ["bob"]})
    assert [r["run_id"] for r in data.list_runs(db, only_bob)] == ["run-b"]
    assert data.filter_options(db)["region"] == ["DE", "SE"]
    assert [w["energy_j"] for w in data.run_windows(db, "run-a")] == [7200.0] * 3
    assert [e["epoch"] for e in data.run_epochs(db, "run-a")] == [0, 1]
    assert [r["run_id"] for r in data.running_runs(db)] == ["run-a"]
    assert [r["run_id"] for r in data.top_runs(db)] == ["run-a", "run-b"]
    assert [r["run_id"] for r in data.get_runs(db, ["run-b", "nope", "run-a"])] == [
        "run-b",
        "run-a",
    ]
    assert data.all_time_totals(db) == (25200.0, 21600.0 * 381.0 / 3_600_000.0 + 0.036, 2)
    assert sorted(data.leaderboard_groups(db), key=lambda g: g["user_id"]) == [
        {"user_id": "alice", "model": "resnet50", "region": "DE", "runs": 1, "energy_j": 21600.0,
         "co2e_g": 21600.0 * 381.0 / 3_600_000.0, "samples": 3000},
        {"user_id": "bob", "model": "bert-base", "region": "SE", "runs": 1, "energy_j": 3600.0,
         "co2e_g": 0.036, "samples": 0},
    ]  # fmt: skip
    health = data.health(db)
    assert (health.late_events, health.dead_letters) == (1, 1)
    assert health.latest_dead_letters[0]["reason"] == "unknown event_type: bogus"
    assert data.get_run(db, "nope") is None


def test_fleet_shows_totals_power_now_and_health(db, commands):
    """Active runs, power now from run-a's ``power_w`` (120 W; run-b is completed), today's and
    all-time totals from the rollups and runs; the page reads no ``windows``."""
    commands.clear()
    shown = fleet.view(db, "user", "7d", NOW)
    assert commands.collections() == {"runs", "rollups", "late_events", "dead_letters"}
    card_texts = texts(shown.cards)
    assert card_texts[:6] == [
        "Active runs",
        "1",
        "of 2 runs",
        "Power now",
        "120 W",
        "1 runs reporting",
    ]
    assert "7.00 Wh · 2.32 g CO2e" in card_texts  # today, this week, all time
    assert [t.name for t in shown.energy.data] == ["alice", "bob"]
    assert [list(t.y) for t in shown.energy.data] == [[0.006], [0.001]]
    assert [row["run_id"] for row in shown.top] == ["run-a", "run-b"]
    assert texts(shown.health)[1:3] == ["Late events: 1", "Dead letters: 1"]
    assert shown.message == ""
    by_region = fleet.view(db, "region", "24h", NOW)
    assert [t.name for t in by_region.co2e.data] == ["DE", "SE"]
    # Six minutes after run-a's last event it no longer counts as drawing power now.
    later = fleet.view(db, "user", "7d", NOW.replace(minute=36, second=1))
    assert texts(later.cards)[3:6] == ["Power now", "0.00 W", "0 runs reporting"]


def test_runs_table_filters_and_reports_bad_dates(db):
    """A filter narrows the table; a malformed date is a message, not an error."""
    rows, options, messages = runs.view(db, {"user": ["alice"]}, "2026-06-10", "2026-06-10")
    assert [r["run_id"] for r in rows] == ["run-a"]
    assert rows[0]["energy_kwh"] == 0.006
    assert rows[0]["run"] == "[run-a](/run/run-a)"
    assert options["user"] == ["alice", "bob"]
    assert messages == []
    rows, _, messages = runs.view(db, {}, "2026-13-45", None)
    assert [r["run_id"] for r in rows] == ["run-a", "run-b"]
    assert messages == ["from: '2026-13-45' is not a date; use YYYY-MM-DD (UTC)."]
    rows, _, messages = runs.view(db, {}, "2026-06-11", None)
    assert (rows, messages) == ([], ["No run matches these filters."])


def test_run_detail_shows_the_run_to_the_digit(db, commands):
    """Energy, CO2e, power (its ``power_w``), per sample, intensity with source and year,
    methods and energy per epoch without reading ``windows``; the windows' charts apart."""
    commands.clear()
    shown = run.view(db, "run-a")
    assert commands.collections() == {"runs", "epochs"}
    card_texts = texts(shown.cards)
    meta = texts(shown.meta)
    assert [m for m in meta if m.startswith(("epoch:", "step:"))] == ["epoch: 1", "step: 30"]
    assert card_texts[6:9] == ["Power", "120 W", "mean of the latest measurement"]
    assert card_texts[:6] == ["Energy", "6.00 Wh", "≈ 0.0 km by car · ≈ 0.1 litres boiled",
                              "CO2e", "2.29 g CO2e", "PUE 1"]  # fmt: skip
    assert card_texts[15:18] == ["Carbon intensity", "381 g CO2e/kWh", "Ember 2023"]
    assert card_texts[18:20] == ["Measured by", "gpu: nvml; cpu: rapl; ram: estimate"]
    assert card_texts[9:12] == ["Per sample", "7.2 J", "0.000762 g CO2e"]
    assert list(shown.epochs.data[0].y) == [0.004, 0.002]
    assert list(shown.epochs.data[0].text) == ["1.52 g CO2e", "0.76 g CO2e"]
    charts = run.windows_view(db, "run-a")
    assert charts.message == ""
    assert [list(t.y) for t in charts.power.data] == [[60.0] * 3, [40.0] * 3, [20.0] * 3]
    assert list(charts.cumulative.data[0].y) == [0.002, 0.004, 0.006]
    assert list(charts.progress.data[0].x) == [0.002, 0.004, 0.006]
    assert list(charts.progress.data[0].y) == [2.0, 1.5, 1.0]
    assert run.what_if(db, "run-a", "SE") == (
        "In SE (41 g CO2e/kWh, Ember 2023) the same 6.00 Wh would have emitted 0.25 g CO2e "
        "instead of 2.29 g CO2e (-89%)."
    )


def test_a_run_with_one_event_and_an_unknown_run(db, commands):
    """run-b has one window and no epochs; an unknown id is a message."""
    shown = run.view(db, "run-b")
    assert shown.found
    assert texts(shown.cards)[1] == "1.00 Wh"
    assert texts(shown.cards)[7] == "3.60 kW"
    assert shown.epochs.layout.title.text == "Energy per epoch: no epoch reported"
    assert list(run.windows_view(db, "run-b").power.data[0].y) == [60.0]
    missing = run.view(db, "nope")
    assert (missing.found, missing.message) == (
        False,
        "No run with id 'nope': open one from the Runs page.",
    )
    commands.clear()
    assert run.windows_view(db, "nope").message == ""
    assert "windows" not in commands.collections()


def test_compare_and_leaderboards(db, commands):
    """Two runs overlaid: run-a per epoch (from ``epochs``), run-b, without epochs, from its one
    window (the only window read); too few runs is a message; leaderboards fold per group."""
    commands.clear()
    messages, offered, co2e, per_sample, loss = compare.view(db, ["run-a", "run-b"])
    assert (messages, offered) == ([], ["run-a", "run-b"])
    window_reads = [f for name, coll, f in commands.reads if coll == "windows"]
    assert window_reads == [{"run_id": {"$in": ["run-b"]}}]
    assert [t.name for t in co2e.data] == ["run-a", "run-b"]
    # run-a: epoch 0 (14,400 J) ends 2 min after its start, epoch 1 (7,200 J) 3 min after.
    assert list(co2e.data[0].x) == [2 / 60, 3 / 60]
    assert list(co2e.data[0].y) == [14400.0 * 381.0 / 3_600_000.0 / 1000.0,
                                    21600.0 * 381.0 / 3_600_000.0 / 1000.0]  # fmt: skip
    assert (list(co2e.data[1].x), list(co2e.data[1].y)) == ([1 / 60], [0.036 / 1000.0])
    assert [list(t.y) for t in per_sample.data] == [[7.2], [0.0]]
    assert [(t.name, list(t.x), list(t.y)) for t in loss.data] == [
        ("run-a", [0.004, 0.006], [1.5, 1.0])
    ]
    commands.clear()
    compare.view(db, ["run-a", "run-a"])  # one run twice: too few, nothing drawn
    assert "windows" not in commands.collections()
    messages, *_ = compare.view(db, ["run-a"])
    assert messages == ["Pick 2 to 5 runs to compare."]
    message, boards = leaderboards.view(db)
    assert message == ""
    assert boards[0] == [
        {"name": "alice", "runs": 1, "energy_kwh": 0.006, "co2e_kg": 0.0023,
         "wh_per_1k_samples": 2.0, "g_per_kwh": 381.0},
        {"name": "bob", "runs": 1, "energy_kwh": 0.001, "co2e_kg": 0.0, "wh_per_1k_samples": None,
         "g_per_kwh": 36.0},
    ]  # fmt: skip


def test_an_empty_database_is_a_friendly_empty_state(empty_db):
    """No runs: every page says so and nothing fails."""
    assert fleet.view(empty_db, "user", "7d", NOW).message.startswith("No runs yet")
    assert runs.view(empty_db, {}, None, None)[2] == [
        "No runs yet: start a trainer, or `make demo` for a simulated fleet."
    ]
    assert leaderboards.view(empty_db)[0].startswith("No runs yet")
    assert compare.view(empty_db, [])[0][-1].startswith("No runs yet")


def test_a_database_that_is_down_gives_a_banner():
    """A closed port: the banner says so instead of raising."""
    (port,) = free_ports(1)
    client: MongoClient[dict[str, object]] = MongoClient(
        f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=300
    )
    try:
        banner = dash_app.banner(client["nothing"])
    finally:
        client.close()
    assert texts(banner)[0].startswith("MongoDB is not reachable (ServerSelectionTimeoutError)")
