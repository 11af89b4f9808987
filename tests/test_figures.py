from datetime import UTC, datetime, timedelta
from typing import Any

from joulestream.dash_app import figures, params, units

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def window(start: datetime, energy_j: float, loss: float | None = None) -> dict[str, object]:
    end = start + timedelta(seconds=60)
    return {"window_start": start, "window_end": end, "gpu_energy_j": energy_j,
            "energy_j": energy_j, "co2e_g": energy_j / 1000, "loss": loss}  # fmt: skip


def test_run_rows_convert_units_and_link_the_run():
    """3.6 MJ is shown as 1 kWh, 1,500 g as 1.5 kg, times as UTC strings, the id as a link."""
    rows = figures.run_rows([{"run_id": "r", "energy_j": 3_600_000.0, "co2e_g": 1500.0,
                              "last_event_at": AT}])  # fmt: skip
    assert (rows[0]["id"], rows[0]["energy_kwh"], rows[0]["co2e_kg"]) == ("r", 1.0, 1.5)
    assert rows[0]["last_event_at"] == "2026-01-02 03:04:05"
    assert rows[0]["run"] == "[r](/run/r)"


def test_power_and_cumulative_and_progress():
    """Power is energy over the window's length; cumulative sums; loss against energy."""
    windows = [window(AT, 7200.0, 2.0), window(AT + timedelta(minutes=1), 3600.0, 1.0)]
    assert [figures.power_w(w) for w in windows] == [120.0, 60.0]
    assert figures.cumulative(windows) == ([7200.0, 10800.0], [7.2, 7.2 + 3.6])
    progress = figures.progress_figure(windows)
    assert (list(progress.data[0].x), list(progress.data[0].y)) == ([0.002, 0.003], [2.0, 1.0])


def test_power_now_sums_recent_running_runs_only():
    """120 W + 30 W of runs heard from since ``AT``; one silent for 5 min and one without a
    measurement yet are left out."""
    running: list[dict[str, Any]] = [
        {"power_w": 120.0, "last_event_at": AT},
        {"power_w": 30.0, "last_event_at": AT + timedelta(seconds=10)},
        {"power_w": 500.0, "last_event_at": AT - timedelta(seconds=1)},
        {"power_w": None, "last_event_at": AT},
    ]
    assert figures.power_now_w(running, AT) == (150.0, 2)
    assert figures.power_now_w([], AT) == (0.0, 0)


def test_compare_draws_runs_with_epochs_per_epoch_and_others_per_window():
    """Run e: two epochs of 1 kWh and 2 kWh at PUE 1.5 and 100 g/kWh, hours from its first
    epoch's start; run w has no epochs: its windows."""
    run_e = {"run_id": "e", "pue": 1.5, "intensity_g_per_kwh": 100.0, "energy_j_per_sample": 2.0}
    epochs = [
        {"epoch": 0, "started_at": AT, "ended_at": AT + timedelta(minutes=30),
         "energy_j": 3_600_000.0, "loss": 2.0},
        {"epoch": 1, "started_at": AT + timedelta(minutes=30), "ended_at": AT + timedelta(hours=2),
         "energy_j": 7_200_000.0, "loss": None},
    ]  # fmt: skip
    assert figures.compare_series(run_e, epochs, []) == ([0.5, 2.0], [0.15, 0.45], [(1.0, 2.0)])
    run_w = {"run_id": "w"}
    windows = [window(AT, 7200.0, 2.0), window(AT + timedelta(minutes=1), 3600.0, 1.0)]
    co2e, per_sample, loss = figures.compare_figures(
        [run_e, run_w], {"e": epochs, "w": []}, {"w": windows}
    )
    assert [(t.name, t.mode, list(t.x), list(t.y)) for t in co2e.data] == [
        ("e", "lines+markers", [0.5, 2.0], [0.15, 0.45]),
        ("w", "lines", [1 / 60, 2 / 60], [0.0072, 0.0108]),
    ]
    assert [list(t.y) for t in per_sample.data] == [[2.0], [0.0]]
    assert [(t.name, list(t.x), list(t.y)) for t in loss.data] == [
        ("e", [1.0], [2.0]),
        ("w", [0.002, 0.003], [2.0, 1.0]),
    ]
    assert figures.compare_series(run_w, [], []) == ([], [], [])


def test_empty_figures_say_why():
    """No window: a titled empty chart instead of an error."""
    assert figures.power_figure([]).layout.title.text == "Power: no closed window yet"
    assert figures.progress_figure([]).layout.title.text == "Loss and accuracy: none reported"


def test_what_if_and_epoch_pricing_use_the_runs_pue():
    """1 kWh at PUE 1.5 priced at 100 g/kWh is 150 g."""
    run = {"energy_j": 3_600_000.0, "pue": 1.5, "intensity_g_per_kwh": 400.0}
    assert figures.what_if_co2e_g(run, 100.0) == 150.0
    assert figures.epoch_co2e_g({"energy_j": 3_600_000.0}, run) == 600.0


def test_fleet_figure_stacks_groups_within_the_range():
    """Rollups before the range are left out; one bar series per group."""
    rollups = [
        {"user_id": "a", "period_start": AT, "energy_j": 3_600_000.0},
        {"user_id": "b", "period_start": AT, "energy_j": 7_200_000.0},
        {"user_id": "b", "period_start": AT - timedelta(days=9), "energy_j": 1.0},
    ]
    figure = figures.fleet_figure(rollups, "user_id", "energy_j", AT - timedelta(days=7))
    assert [(t.name, list(t.y)) for t in figure.data] == [("a", [1.0]), ("b", [2.0])]


def test_units_read_like_a_person_writes_them():
    assert units.energy(3_600_000.0) == "1.00 kWh"
    assert units.energy(5_400.0) == "1.50 Wh"
    assert units.energy(25.0) == "25.0 J"  # a short run: joules, not "0.01 Wh"
    assert (units.co2e(0.00039), units.co2e(0.76)) == ("0.39 mg CO2e", "0.76 g CO2e")
    assert (units.method("tdp_model"), units.method("rapl")) == ("tdp_model (estimate)", "rapl")
    assert units.co2e(1500.0) == "1.50 kg CO2e"
    assert units.co2e(2_500_000.0) == "2.50 t CO2e"
    assert units.power(1250.0) == "1.25 kW"
    assert units.power(350.0) == "350 W"
    assert units.equivalents(3_348_800.0, 2510.057175187812) == (
        "≈ 10 km by car · ≈ 10 litres boiled"
    )


def test_routes_and_parameters_are_checked_with_messages():
    """Known pages, run ids, malformed dates and unknown values each give a clear answer."""
    assert params.route("/run/a%2Fb", "") == params.Route("run", {}, run_id="a/b")
    assert params.route("/runs", "?user=a,b&user=c").query == {"user": ["a", "b", "c"]}
    assert params.route("/nowhere", None).page == "not_found"
    assert params.parse_date("2026-02-30", "from") == (
        None, "from: '2026-02-30' is not a date; use YYYY-MM-DD (UTC)."
    )  # fmt: skip
    run_filter, messages = params.runs_filter({"user": ["a"]}, "2026-01-02", "2026-01-02")
    assert (run_filter.values, run_filter.since, run_filter.until, messages) == (
        {"user_id": ["a"]},
        datetime(2026, 1, 2, tzinfo=UTC),
        datetime(2026, 1, 3, tzinfo=UTC),
        [],
    )
    assert params.choice({"range": ["1y"]}, "range", ["7d", "all"], "7d") == (
        "7d", "range: '1y' is not one of 7d, all; showing 7d."
    )  # fmt: skip
    assert params.compare_ids(["a", "a"]) == (["a"], "Pick 2 to 5 runs to compare.")
    assert params.compare_ids(list("abcdef")) == (
        list("abcde"),
        "At most 5 runs: showing the first 5.",
    )


def test_runs_filters_are_written_back_into_the_address_and_read_again():
    """The runs page's filters as an address query, in the order of the filter fields, and back."""
    values = {"status": ["running", "failed"], "user": ["alice b"], "model": []}
    search = params.runs_search(values, "2026-06-10", " ")
    assert search == "?user=alice%20b&status=running,failed&from=2026-06-10"
    parsed, messages = params.url_filter_values(params.parse_query(search))
    assert (parsed, messages) == ({"user": ["alice b"], "status": ["running", "failed"]}, [])
    assert params.runs_search({}, None, "") == ""


def test_run_meta_shows_zero_and_marks_only_missing_values():
    from joulestream.dash_app.pages import run

    assert [run._shown(v) for v in (0, None, "", "resnet50")] == ["0", "-", "-", "resnet50"]


def test_leaderboard_folds_sums_of_runs_per_group():
    """Parts are the server's sums per user, model and region: runs add up, not parts."""
    parts = [
        {"user_id": "alice", "model": "m1", "runs": 2, "energy_j": 7200.0, "co2e_g": 1.5,
         "samples": 1000},
        {"user_id": "alice", "model": "m2", "runs": 1, "energy_j": 3600.0, "co2e_g": 0.5,
         "samples": 0},
        {"user_id": "bob", "model": "m1", "runs": 3, "energy_j": 0.0, "co2e_g": 0.0,
         "samples": 0},
    ]  # fmt: skip
    assert figures.leaderboard(parts, "user_id") == [
        {"name": "alice", "runs": 3, "energy_kwh": 0.003, "co2e_kg": 0.002,
         "wh_per_1k_samples": 3.0, "g_per_kwh": 666.7},
        {"name": "bob", "runs": 3, "energy_kwh": 0.0, "co2e_kg": 0.0, "wh_per_1k_samples": None,
         "g_per_kwh": None},
    ]  # fmt: skip
    assert [(r["name"], r["runs"]) for r in figures.leaderboard(parts, "model")] == [
        ("m1", 5),
        ("m2", 1),
    ]
