"""The dashboard's data access and page callbacks on the MongoDB-compatible server, with a small
seeded fleet (tests/integration/dashboard_fleet.py), an empty database and a server that is down."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient

from joulestream.dash_app import app as dash_app
from joulestream.dash_app import data, figures, fleet_runs, settled
from joulestream.dash_app.pages import compare, fleet, leaderboards, run, runs
from joulestream.dash_app.settings import DashSettings
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
    # Fleet's one read of every run, folded: what its four queries of ``runs`` returned.
    folded = fleet_runs.fold(data.every_run(db))
    assert [r["run_id"] for r in folded.running] == ["run-a"]
    assert [r["run_id"] for r in folded.top] == ["run-a", "run-b"]
    assert [r["run_id"] for r in folded.flagged] == ["run-a"]
    assert (folded.count, folded.energy_j, folded.lost) == (2, 25200.0, 0)
    assert folded.last_event_at == NOW.replace(second=0)
    assert [r["run_id"] for r in data.runs_in_order(db, ["run-b", "nope", "run-a"])] == [
        "run-b",
        "run-a",
    ]
    assert [r["run_id"] for r in data.get_runs(db, ["run-b", "nope", "run-a"])] == [
        "run-b",
        "run-a",
    ]
    assert data.rollup_totals(db) == (25200.0, 21600.0 * 381.0 / 3_600_000.0 + 0.036)
    # run-a's RAM is an estimate ("estimate"): its CO2e carries the mark.
    assert [r["run_id"] for r in data.flagged_runs(db)] == ["run-a"]
    assert sorted(data.leaderboard_groups(db), key=lambda g: g["user_id"]) == [
        {"user_id": "alice", "model": "resnet50", "region": "DE", "runs": 1, "energy_j": 21600.0,
         "co2e_g": 21600.0 * 381.0 / 3_600_000.0, "samples": 3000},
        {"user_id": "bob", "model": "bert-base", "region": "SE", "runs": 1, "energy_j": 3600.0,
         "co2e_g": 0.036, "samples": 0},
    ]  # fmt: skip
    health = data.health(db, NOW)
    assert (health.last_event_at, health.late_events, health.dead_letters) == (NOW, 1, 1)
    assert health.latest_dead_letters[0]["reason"] == "unknown event_type: bogus"
    assert data.get_run(db, "nope") is None


def test_fleet_shows_totals_power_now_and_health(db, commands):
    """Live runs, power now from run-a's ``power_w`` (120 W; run-b is completed), today's,
    this week's and all-time totals from the same rollups, agreeing with the runs' totals; the
    page reads no ``windows``, and every run once."""
    commands.clear()
    shown = fleet.view(db, "user", "7d", NOW)
    assert commands.collections() == {"runs", "rollups", "late_events", "dead_letters"}
    # Every run read once, then the top runs' other fields by their ids.
    assert [(name, q) for name, c, q in commands.reads if c == "runs"] == [
        ("find", {}),
        ("find", {"_id": {"$in": ["run-a", "run-b"]}}),
    ]
    card_texts = texts(shown.cards)
    assert card_texts[:6] == [
        "Live runs",
        "1",
        "0 stale · 0 lost · of 2 runs",
        "Power now",
        "120 W",
        "1 live run reporting",
    ]
    assert card_texts[6:9] == ["Today", "7.00 Wh · 2.32 g CO2e *", "< 0.01 EUR"]
    assert card_texts[-1] == "Today, This week and All time add up the same hourly periods"
    assert [t.name for t in shown.energy.data] == ["alice", "bob"]
    assert [list(t.y) for t in shown.energy.data] == [[6.0], [1.0]]
    assert shown.energy.layout.yaxis.title.text == "energy (Wh)"
    assert [row["run_id"] for row in shown.top] == ["run-a", "run-b"]
    assert texts(shown.health)[1:3] == ["Late events: 1", "Dead letters: 1"]
    assert shown.message == ""
    by_region = fleet.view(db, "region", "24h", NOW)
    assert [t.name for t in by_region.co2e.data] == ["DE", "SE"]
    # Six minutes after run-a's last event it is stale: not live, not drawing power now.
    later = fleet.view(db, "user", "7d", NOW.replace(minute=36, second=1))
    assert texts(later.cards)[:6] == [
        "Live runs", "0", "1 stale · 0 lost · of 2 runs", "Power now", "0 W",
        "0 live runs reporting",
    ]  # fmt: skip


def test_all_time_is_the_same_whether_its_rollups_are_settled_or_not(db, commands):
    """All time adds the settled rollups' kept sum and the newer ones read for the charts: two
    days later with an hour's settled age every rollup is settled (summed once by the server,
    then kept: the next refresh sends no aggregate on ``rollups``), and All time is unchanged."""
    fresh = texts(fleet.view(db, "user", "7d", NOW).cards)
    assert fresh[12:14] == ["All time", "7.00 Wh · 2.32 g CO2e *"]
    kept = settled.SettledTotals()
    later, hour = NOW + timedelta(days=2), DashSettings(settled_after_s=3600)
    assert kept.totals(db, settled.cutoff(later, 3600)) == data.rollup_totals(db)
    commands.clear()
    shown = fleet.view(db, "user", "7d", later, hour, kept=kept)
    assert texts(shown.cards)[12:14] == fresh[12:14]
    assert ("aggregate", "rollups") not in {(name, c) for name, c, _ in commands.reads}


def test_marks_follow_a_run_priced_at_the_world_average(services, db):
    """A run priced at the world average is marked on the fleet's totals, in the runs table,
    on its page and in the leaderboards (its region's row only)."""
    writer: MongoClient[dict[str, object]] = MongoClient(services.mongo_uri)
    try:
        writer[db.name].runs.update_one({"_id": "run-b"}, {"$set": {"intensity_fallback": True}})
    finally:
        writer.close()
    assert sorted(r["run_id"] for r in data.flagged_runs(db)) == ["run-a", "run-b"]
    shown = fleet.view(db, "user", "7d", NOW)
    # run-b's last event was an hour ago: today's total carries its mark.
    assert texts(shown.cards)[7] == "7.00 Wh · 2.32 g CO2e †*"
    rows, _, _ = runs.view(db, {}, None, None, NOW)
    assert [(r["run_id"], r["co2e"], r["intensity_fallback"]) for r in rows] == [
        ("run-a", "2.29 g CO2e *", False), ("run-b", "36.0 mg CO2e †", True)
    ]  # fmt: skip
    assert texts(run.view(db, "run-b", NOW).cards)[4] == "36.0 mg CO2e †"
    _, boards = leaderboards.view(db)
    assert [(r["name"], r["co2e"]) for r in boards[2]] == [
        ("DE", "2.29 g CO2e *"), ("SE", "36.0 mg CO2e †")
    ]  # fmt: skip


def test_runs_table_filters_and_reports_bad_dates(db):
    """A filter narrows the table; a malformed date is a message, not an error."""
    rows, options, messages = runs.view(db, {"user": ["alice"]}, "2026-06-10", "2026-06-10")
    assert [r["run_id"] for r in rows] == ["run-a"]
    assert (rows[0]["energy"], rows[0]["energy_j"]) == ("6.00 Wh", 21600.0)
    assert rows[0]["run"] == "[run-a](/run/run-a)"
    assert options["user"] == ["alice", "bob"]
    assert messages == []
    rows, _, messages = runs.view(db, {}, "2026-13-45", None)
    assert [r["run_id"] for r in rows] == ["run-a", "run-b"]
    assert messages == ["from: '2026-13-45' is not a date; use YYYY-MM-DD (UTC)."]
    rows, _, messages = runs.view(db, {}, "2026-06-11", None)
    assert (rows, messages) == ([], ["No run matches these filters."])


def test_run_detail_shows_the_run_to_the_digit(db, commands):
    """Energy, CO2e, cost, average power (3 min for 6 Wh), per sample, intensity with source
    and year, methods and energy per epoch without reading ``windows``; the windows' charts
    and peak power apart."""
    commands.clear()
    shown = run.view(db, "run-a", NOW)
    assert commands.collections() == {"runs", "epochs"}
    card_texts = texts(shown.cards)
    meta = texts(shown.meta)
    assert meta[:3] == ["status: running", f"started: {NOW:%Y-%m-%d} 12:27:00 UTC",
                        "duration: 3 min"]  # fmt: skip
    assert [m for m in meta if m.startswith(("epoch:", "step:"))] == ["epoch: 1", "step: 30"]
    assert card_texts[:12] == [
        "Energy", "6.00 Wh", "too little for an everyday equivalent",
        "CO2e", "2.29 g CO2e *", "PUE 1",
        "Cost", "< 0.01 EUR", "at 0.25 EUR/kWh",
        "Average power", "120 W", "latest 120 W",
    ]  # fmt: skip
    assert card_texts[12:15] == ["Per sample", "7.20 J", "762 µg CO2e *"]
    assert card_texts[18:21] == ["Carbon intensity", "381 g CO2e/kWh", "Ember 2023"]
    assert card_texts[21:23] == ["Measured by", "gpu: nvml; cpu: rapl; ram: estimate *"]
    # 30 of its 100 planned steps in 3 min: 7 min to go, totals x 100/30.
    assert card_texts[24:] == [
        "ETA", "7 min", f"ends ≈ {NOW:%Y-%m-%d} 12:37 UTC · step 30 of 100",
        "Projected at the end", "20.0 Wh · 7.62 g CO2e *",
        "0.01 EUR · at the pace so far (30% done)",
    ]  # fmt: skip
    assert meta[-1] == "plan: 100 steps, 4 epochs"
    assert list(shown.gpus.data[0].x) == ["GPU 0", "GPU 1"]
    assert list(shown.gpus.data[0].y) == [2.0, 1.0]
    assert list(shown.gpus.data[0].text) == ["90% busy", "45% busy"]
    # Finished or silent, a run has no ETA.
    assert "ETA" not in texts(run.view(db, "run-a", NOW + timedelta(minutes=10)).cards)
    assert list(shown.epochs.data[0].y) == [4.0, 2.0]
    assert list(shown.epochs.data[0].text) == ["1.52 g CO2e *", "762 mg CO2e *"]
    charts = run.windows_view(db, "run-a")
    assert (charts.message, charts.peak) == ("", "120 W")
    assert [list(t.y) for t in charts.power.data] == [[60.0] * 3, [40.0] * 3, [20.0] * 3]
    assert list(charts.cumulative.data[0].y) == [0.0, 2.0, 4.0, 6.0]  # from 0 at the start
    assert list(charts.progress.data[0].x) == [2.0, 4.0, 6.0]
    assert list(charts.progress.data[0].y) == [2.0, 1.5, 1.0]
    assert run.what_if(db, "run-a", "SE") == (
        "In SE (41 g CO2e/kWh, Ember 2023) the same 6.00 Wh would have emitted 246 mg CO2e "
        "instead of 2.29 g CO2e (-89%)."
    )
    windows = run.export(db, "run-a", "windows", "csv", NOW)
    assert windows is not None
    assert windows["filename"] == "joulestream-run-run-a-windows-20260610T123020Z.csv"
    lines = windows["content"].split("\r\n")
    assert lines[0].startswith("run_id,window_start_utc,window_end_utc,epoch,")
    assert lines[1].startswith("run-a,2026-06-10T12:27:00.000Z,2026-06-10T12:28:00.000Z,0,")
    epochs = run.export(db, "run-a", "epochs", "json", NOW)
    assert epochs is not None
    rows = json.loads(epochs["content"])
    assert [(e["epoch"], e["energy_j"], e["duration_s"]) for e in rows] == [
        (0, 14400.0, 120.0), (1, 7200.0, 60.0)
    ]  # fmt: skip


def test_a_run_with_one_event_and_an_unknown_run(db, commands):
    """run-b has one window and no epochs; an unknown id is a message."""
    shown = run.view(db, "run-b", NOW)
    assert shown.found
    assert texts(shown.cards)[1] == "1.00 Wh"
    assert texts(shown.cards)[9:11] == ["Average power", "3.60 kW"]
    assert shown.epochs.layout.title.text == "Energy per epoch: no epoch reported"
    assert figures.empty_message(shown.gpus) == "Per GPU: the run reported no per-GPU figures"
    assert "ETA" not in texts(shown.cards)
    assert list(run.windows_view(db, "run-b").power.data[0].y) == [60.0]
    missing = run.view(db, "nope")
    assert (missing.found, missing.message) == (
        False,
        "No run with id 'nope': open one from the Runs page.",
    )
    commands.clear()
    assert run.windows_view(db, "nope").message == ""
    assert "windows" not in commands.collections()
    assert run.export(db, "nope", "windows", "csv", NOW) is None


def test_compare_and_leaderboards(db, commands):
    """Two runs overlaid: run-a per epoch (from ``epochs``), run-b, without epochs, from its one
    window (the only window read); too few runs is a message; leaderboards fold per group."""
    commands.clear()
    messages, offered, co2e, per_sample, loss = compare.view(db, ["run-a", "run-b"])
    assert (messages, offered) == ([], ["run-a", "run-b"])
    window_reads = [f for name, coll, f in commands.reads if coll == "windows"]
    assert window_reads == [{"run_id": {"$in": ["run-b"]}}]
    names = ["alice · resnet50 · run-a *", "bob · bert-base · run-b"]  # run-a: RAM estimated
    assert [t.name for t in co2e.data] == names
    # run-a: epoch 0 (14,400 J) ends 2 min after its start, epoch 1 (7,200 J) 3 min after.
    assert list(co2e.data[0].x) == [0.0, 2.0, 3.0]
    epoch_0_g = 14400.0 * 381.0 / 3_600_000.0
    assert list(co2e.data[0].y) == [0.0, epoch_0_g, epoch_0_g + 7200.0 * 381.0 / 3_600_000.0]
    assert (list(co2e.data[1].x), list(co2e.data[1].y)) == ([0.0, 1.0], [0.0, 0.036])
    assert (co2e.layout.xaxis.title.text, co2e.layout.yaxis.title.text) == (
        "minutes since the run began", "CO2e (g)"
    )  # fmt: skip
    assert [list(t.y) for t in per_sample.data] == [[7.2], [None]]  # run-b: no samples, no bar
    assert [a.text for a in per_sample.layout.annotations] == ["no samples reported"]
    assert [(t.name, list(t.x), list(t.y)) for t in loss.data] == [
        (names[0], [4.0, 6.0], [1.5, 1.0])
    ]
    commands.clear()
    compare.view(db, ["run-a", "run-a"])  # one run twice: too few, nothing drawn
    assert "windows" not in commands.collections()
    messages, *_ = compare.view(db, ["run-a"])
    assert messages == ["Pick 2 to 5 runs to compare."]
    message, boards = leaderboards.view(db)
    assert message == ""
    shown = ("name", "runs", "energy", "co2e", "cost", "wh_per_1k", "g_per_kwh")
    assert [{key: row[key] for key in shown} for row in boards[0]] == [
        {"name": "alice", "runs": 1, "energy": "6.00 Wh", "co2e": "2.29 g CO2e *",
         "cost": "< 0.01 EUR", "wh_per_1k": "2.00", "g_per_kwh": "381"},
        {"name": "bob", "runs": 1, "energy": "1.00 Wh", "co2e": "36.0 mg CO2e",
         "cost": "< 0.01 EUR", "wh_per_1k": "-", "g_per_kwh": "36"},
    ]  # fmt: skip
    # Over a range: the hour from 12:00 holds run-a's rollup and activity only.
    message, boards = leaderboards.view(
        db, None, (), "custom", ("2026-06-10T12:00", "2026-06-10T13:00"), NOW
    )
    assert [(r["name"], r["runs"], r["energy"]) for r in boards[0]] == [("alice", 1, "6.00 Wh")]
    message, boards = leaderboards.view(db, None, (), "7d", (None, None), NOW)
    assert [(r["name"], r["runs"]) for r in boards[0]] == [("alice", 1), ("bob", 1)]
    message, boards = leaderboards.view(db, None, (), "custom", ("2020-01-01", "2020-01-02"), NOW)
    assert (message, boards[0]) == ("No energy measured in this range.", [])
    board = leaderboards.export(db, "user_id", None, "csv", NOW)
    assert board["filename"] == "joulestream-leaderboard-users-20260610T123020Z.csv"
    assert board["content"].split("\r\n")[:2] == [
        "user_id,runs,energy_j,co2e_g,cost_eur,energy_wh_per_1k_samples,intensity_g_per_kwh,"
        "intensity_fallback,energy_estimated",
        f"alice,1,21600.0,{21600.0 * 381.0 / 3_600_000.0!r},{21600.0 / 3_600_000.0 * 0.25!r},2.0,"
        f"{21600.0 * 381.0 / 3_600_000.0 / 0.006!r},false,true",
    ]


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


def test_greenest_start_with_the_regions_stored_series(db, commands):
    """run-a (DE, 21,600 J from 12:27 in the 12:00 hour, 2.29 g CO2e at 381 g/kWh) shifted by
    whole hours over DE's stored average series (10:00 100, 11:00 500, 12:00 381, 13:00 300,
    14:00 200 g/kWh; the marginal 10 g/kWh is not used): two hours earlier is 0.6 g. One query
    for the series; run-b's region (SE) has none, which the page says."""
    commands.clear()
    shown = run.greenest_what_if(db, "run-a", "around-24h", None, None)
    assert shown == (
        "Greenest start between 2026-06-09 12:27 and 2026-06-11 12:27 UTC: 2026-06-10 10:27 UTC "
        "(2 h 00 min earlier), 600 mg CO2e instead of 2.29 g CO2e, 1.69 g CO2e less (74%). "
        "5 starts in whole steps of 1 h 00 min, priced with DE's stored average series and "
        "PUE 1."
    )
    assert commands.collections() == {"runs", "windows", "grid_intensity"}
    series_reads = [f for _, coll, f in commands.reads if coll == "grid_intensity"]
    assert series_reads == [{
        "zone": "DE", "kind": "average",
        "period_start": {"$gte": datetime(2026, 6, 8, 12, 27, tzinfo=UTC),
                         "$lt": datetime(2026, 6, 11, 12, 29, 0, 1000, tzinfo=UTC)},
    }]  # fmt: skip
    later = run.greenest_what_if(db, "run-a", "after-24h", None, None)
    assert later.startswith(
        "Greenest start between 2026-06-10 12:27 and 2026-06-11 12:27 UTC: 2026-06-10 14:27 UTC "
        "(2 h 00 min later), 1.20 g CO2e instead of 2.29 g CO2e, 1.09 g CO2e less (48%). 3 starts"
    )
    # Custom days: the 10th, one whole day, as the address would give it.
    assert run.greenest_what_if(db, "run-a", "custom", "2026-06-10", None).startswith(
        "Greenest start between 2026-06-10 00:00 and 2026-06-10 23:59 UTC: 2026-06-10 10:27 UTC"
    )
    assert run.greenest_what_if(db, "run-b", "around-24h", None, None) == (
        "Region 'SE' has no stored average grid series for starts between 2026-06-09 11:30 and "
        "2026-06-11 11:30 UTC: the what-if needs its figures from the grid.intensity topic."
    )
    assert run.greenest_what_if(db, "nope", "around-24h", None, None) == ""
