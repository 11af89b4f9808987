import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from joulestream.dash_app import exports, figures, lengths, liveness, marks, params, settings, units
from joulestream.dash_app.pages import common
from joulestream.dash_app.pages import fleet as fleet_page
from joulestream.dash_app.pages import run as run_page

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def window(start: datetime, energy_j: float, loss: float | None = None) -> dict[str, object]:
    end = start + timedelta(seconds=60)
    return {"window_start": start, "window_end": end, "gpu_energy_j": energy_j,
            "energy_j": energy_j, "co2e_g": energy_j / 1000, "loss": loss}  # fmt: skip


def test_run_rows_show_units_by_magnitude_marks_and_link_the_run():
    """3.6 MJ is shown as 1.00 kWh, 1,500 g as 1.50 kg (marked: world-average intensity and a
    TDP model), the cost at the default 0.25 EUR/kWh, times as UTC minutes, the id as a link,
    and the raw values kept beside for sorting and exports."""
    run = {"run_id": "r", "energy_j": 3_600_000.0, "co2e_g": 1500.0, "last_event_at": AT,
           "status": "running", "started_at": AT - timedelta(hours=1),
           "intensity_fallback": True, "cpu_methods": ["tdp_model"]}  # fmt: skip
    row = figures.run_rows([run], AT + timedelta(minutes=1))[0]
    assert (row["id"], row["energy"], row["co2e"], row["cost"]) == (
        "r", "1.00 kWh", "1.50 kg CO2e †*", "0.25 EUR"
    )  # fmt: skip
    assert (row["energy_j"], row["co2e_g"], row["cost_eur"], row["mean_power_w"]) == (
        3_600_000.0, 1500.0, 0.25, 1000.0
    )  # fmt: skip
    assert (row["started"], row["last_event"]) == ("2026-01-02 02:04", "2026-01-02 03:04")
    assert (row["run"], row["status_shown"], row["state"]) == ("[r](/run/r)", "running", "live")
    stale = figures.run_rows([run], AT + timedelta(minutes=7))[0]
    assert (stale["status_shown"], stale["state"]) == ("stale (silent 7 min)", "stale")


def test_power_and_cumulative_and_progress():
    """Power is energy over the window's length; cumulative sums; loss against energy in the
    unit the total reaches (3 Wh)."""
    windows = [window(AT, 7200.0, 2.0), window(AT + timedelta(minutes=1), 3600.0, 1.0)]
    assert [figures.power_w(w) for w in windows] == [120.0, 60.0]
    assert figures.peak_power_w(windows) == 120.0
    assert figures.cumulative(windows) == ([7200.0, 10800.0], [7.2, 7.2 + 3.6])
    progress = figures.progress_figure(windows)
    assert (list(progress.data[0].x), list(progress.data[0].y)) == ([2.0, 3.0], [2.0, 1.0])
    assert progress.layout.xaxis.title.text == "energy spent (Wh)"
    assert progress.layout.yaxis.rangemode == "tozero"
    assert "yaxis2" not in progress.layout.to_plotly_json()  # no accuracy: one axis


def test_charts_of_a_young_run_have_one_axis_from_zero_and_a_readable_span():
    """One window: markers, an axis from zero, ticks no finer than a second over a two-minute
    span around the point; the cumulative chart has one axis, CO2e in its hover."""
    one = [window(AT, 60.0)]
    power = figures.power_figure(one)
    assert [t.mode for t in power.data] == ["lines+markers"] * 3
    assert list(power.data[0].y) == [1.0]
    assert power.layout.yaxis.title.text == "power (W)"
    assert power.layout.yaxis.rangemode == "tozero"
    assert list(power.layout.xaxis.range) == [AT, AT + timedelta(minutes=2)]
    assert power.layout.xaxis.tickformatstops[0].value == "%H:%M:%S"
    cumulative = figures.cumulative_figure(one)
    assert len(cumulative.data) == 1
    assert (list(cumulative.data[0].y), list(cumulative.data[0].text)) == (
        [0.0, 60.0], ["0 g CO2e", "60.0 mg CO2e"]
    )  # fmt: skip
    assert cumulative.layout.yaxis.title.text == "energy (J)"


def test_cumulative_energy_starts_at_zero_at_the_runs_start():
    """A run that started 20 s into its first window: the line starts at (start, 0), then
    2 Wh and 3 Wh at the windows' ends, CO2e (marked) in the hover of every point; without a
    start, at the first window's start. A start after the first window's end (another shape
    of document) is not believed."""
    windows = [window(AT, 7200.0), window(AT + timedelta(minutes=1), 3600.0)]
    started = AT + timedelta(seconds=20)
    figure = figures.cumulative_figure(windows, marks.Flags(fallback=True), started)
    line = figure.data[0]
    assert list(line.x) == [started, AT + timedelta(minutes=1), AT + timedelta(minutes=2)]
    assert list(line.y) == [0.0, 2.0, 3.0]
    assert list(line.text) == ["0 g CO2e †", "7.20 g CO2e †", "10.8 g CO2e †"]
    assert line.mode == "lines+markers"  # two windows: a line alone could hide its points
    assert (figure.layout.xaxis.title.text, figure.layout.yaxis.title.text) == (
        "time (UTC)", "energy (Wh)"
    )  # fmt: skip
    assert figures.origin(windows) == AT
    assert figures.origin(windows, AT + timedelta(minutes=5)) == AT
    assert figures.cumulative_figure(windows).data[0].x[0] == AT


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
    """Run e: two epochs of 1 kWh and 2 kWh priced by the job at PUE 1.5 and 100 g/kWh (150 g
    and 300 g), from its first epoch's
    start, in hours (it lasts two); run w has no epochs: its windows. Axes in the unit the
    largest value reaches; runs named by user, model and a short id."""
    run_e = {"run_id": "e", "user_id": "ann", "model": "bert", "pue": 1.5,
             "intensity_g_per_kwh": 100.0, "energy_j_per_sample": 2.0}  # fmt: skip
    epochs = [
        {"epoch": 0, "started_at": AT, "ended_at": AT + timedelta(minutes=30),
         "energy_j": 3_600_000.0, "co2e_g": 150.0, "loss": 2.0},
        {"epoch": 1, "started_at": AT + timedelta(minutes=30), "ended_at": AT + timedelta(hours=2),
         "energy_j": 7_200_000.0, "co2e_g": 300.0, "loss": None},
    ]  # fmt: skip
    assert figures.compare_series(run_e, epochs, []) == (
        [0.0, 1800.0, 7200.0], [0.0, 150.0, 450.0], [(3_600_000.0, 2.0)]
    )  # fmt: skip
    run_w = {"run_id": "w-0123456789", "user_id": "bob", "intensity_fallback": True}
    windows = [window(AT, 7200.0, 2.0), window(AT + timedelta(minutes=1), 3600.0, 1.0)]
    co2e, per_sample, loss = figures.compare_figures(
        [run_e, run_w], {"e": epochs, "w-0123456789": []}, {"w-0123456789": windows}
    )
    assert [(t.name, t.mode, list(t.x), list(t.y)) for t in co2e.data] == [
        ("ann · bert · e", "lines+markers", [0.0, 0.5, 2.0], [0.0, 150.0, 450.0]),
        ("bob · w-012345… †", "lines+markers", [0.0, 1 / 60, 2 / 60], [0.0, 7.2, 10.8]),
    ]
    assert (co2e.layout.xaxis.title.text, co2e.layout.yaxis.title.text) == (
        "hours since the run began", "CO2e (g)"
    )  # fmt: skip
    assert [list(t.y) for t in per_sample.data] == [[2.0], [None]]  # w: no samples, no bar
    assert [(t.name, list(t.x), list(t.y)) for t in loss.data] == [
        ("ann · bert · e", [1.0], [2.0]),
        ("bob · w-012345… †", [0.002, 0.003], [2.0, 1.0]),
    ]
    assert loss.layout.xaxis.title.text == "energy spent (kWh)"
    assert figures.compare_series(run_w, [], []) == ([], [], [])
    # A run in its first epoch is drawn per window, not as one dot.
    assert figures.compare_series(run_e, epochs[:1], windows)[0] == [0.0, 60.0, 120.0]


def test_energy_per_sample_draws_no_bar_for_a_run_without_samples_and_says_so():
    """Run a: 7.2 J per sample, a bar; run b reported no samples (null) and run c a zero: each
    keeps its place on the axis, without a bar, under a note; with no samples at all the axis
    still starts at zero."""
    runs: list[dict[str, Any]] = [
        {"run_id": "a", "user_id": "alice", "model": "resnet50", "energy_j_per_sample": 7.2},
        {"run_id": "b", "user_id": "bob", "model": "bert-base", "energy_j_per_sample": None},
        {"run_id": "c", "user_id": "cy", "energy_j_per_sample": 0.0},
    ]
    assert [figures.per_sample_j(r) for r in runs] == [7.2, None, None]
    _, per_sample, _ = figures.compare_figures(runs, {}, {})
    assert [(list(t.x), list(t.y)) for t in per_sample.data] == [
        (["alice · resnet50 · a"], [7.2]),
        (["bob · bert-base · b"], [None]),
        (["cy · c"], [None]),
    ]
    notes = [(a.x, a.y, a.text) for a in per_sample.layout.annotations]
    assert notes == [
        ("bob · bert-base · b", 0, "no samples reported"),
        ("cy · c", 0, "no samples reported"),
    ]
    assert per_sample.layout.yaxis.title.text == "energy per sample (J)"
    assert per_sample.layout.yaxis.range is None  # autorange from zero over the bars
    _, none, _ = figures.compare_figures(runs[1:], {}, {})
    assert list(none.layout.yaxis.range) == [0, 1]


def test_empty_figures_say_why():
    """No window: a titled empty chart instead of an error."""
    assert figures.power_figure([]).layout.title.text == (
        "Power: no window yet (none of the run's measurements is stored)"
    )
    assert figures.progress_figure([]).layout.title.text == "Loss and accuracy: none reported"


def test_an_empty_chart_is_a_line_of_text_not_a_frame():
    """A page shows an empty figure's message in its place and hides the graph; a figure with
    data is shown and the message hidden; an empty figure without a message shows nothing."""
    empty = figures.fleet_figure([], "user_id", "energy_j", AT)
    assert figures.is_empty(empty)
    assert common.chart_values(empty)[1:] == (
        common.GRAPH_HIDDEN, "Energy: nothing measured in this range", {}
    )  # fmt: skip
    # Hidden without losing its width (Plotly draws at its container's width).
    assert common.GRAPH_HIDDEN == {"height": "0", "overflow": "hidden", "visibility": "hidden"}
    drawn = figures.power_figure([window(AT, 600.0)])
    assert not figures.is_empty(drawn)
    assert common.chart_values(drawn) == (drawn, {}, "", {"display": "none"})
    assert common.chart_values(figures.empty_figure(""))[1:] == (
        common.GRAPH_HIDDEN, "", {"display": "none"}
    )  # fmt: skip


def test_what_if_uses_the_runs_pue():
    """1 kWh at PUE 1.5 priced at 100 g/kWh is 150 g."""
    run = {"energy_j": 3_600_000.0, "pue": 1.5, "intensity_g_per_kwh": 400.0}
    assert figures.what_if_co2e_g(run, 100.0) == 150.0


def test_epochs_show_the_co2e_the_job_stored():
    """The dashboard prices no epoch: each bar's text is its stored CO2e, 0 g before pricing."""
    epochs = [
        {"epoch": 0, "energy_j": 3_600_000.0, "co2e_g": 600.0},
        {"epoch": 1, "energy_j": 1_800_000.0},
    ]
    drawn = figures.epochs_figure(epochs, {"pue": 9.0, "intensity_g_per_kwh": 9.0})
    assert list(drawn.data[0].text) == [units.co2e(600.0), units.co2e(0.0)]


def test_fleet_figure_stacks_groups_within_the_range():
    """Rollups before the range are left out; one bar series per group."""
    rollups = [
        {"user_id": "a", "period_start": AT, "energy_j": 3_600_000.0},
        {"user_id": "b", "period_start": AT, "energy_j": 7_200_000.0},
        {"user_id": "b", "period_start": AT - timedelta(days=9), "energy_j": 1.0},
    ]
    figure = figures.fleet_figure(rollups, "user_id", "energy_j", AT - timedelta(days=7))
    assert [(t.name, list(t.y)) for t in figure.data] == [("a", [1.0]), ("b", [2.0])]


def test_fleet_figure_breaks_co2e_down_by_pricing_source():
    """Stacked by source, each rollup's CO2e is split into the grid series' part, the
    measurements' own part and the rest (run_started or the table); a rollup written before
    grid pricing is all rest."""
    rollups = [
        {"user_id": "a", "period_start": AT, "co2e_g": 1000.0, "grid_co2e_g": 600.0,
         "interval_co2e_g": 100.0},
        {"user_id": "b", "period_start": AT, "co2e_g": 500.0},
    ]  # fmt: skip
    figure = figures.fleet_figure(rollups, figures.BY_SOURCE, "co2e_g", AT - timedelta(days=1))
    assert [(t.name, list(t.y)) for t in figure.data] == [
        ("grid series", [0.6]), ("measurement's own", [0.1]), ("run_started or table", [0.8])
    ]  # fmt: skip
    assert figure.layout.title.text == "CO2e per hour by pricing source"
    assert params.GROUPS["source"] == figures.BY_SOURCE


def test_units_read_like_a_person_writes_them():
    """One rule: the largest unit the value reaches, three significant digits, thousands
    separated, never scientific notation; zero in the base unit."""
    assert units.energy(3_600_000.0) == "1.00 kWh"
    assert units.energy(5_400.0) == "1.50 Wh"
    assert units.energy(25.0) == "25.0 J"  # a short run: joules, not "0.01 Wh"
    assert units.energy(0.0042) == "4.20 mJ"
    assert units.energy(7.2e12) == "2,000 MWh"
    assert units.energy(0.0) == "0 J"
    assert (units.co2e(0.00039), units.co2e(0.76)) == ("390 µg CO2e", "760 mg CO2e")
    assert units.co2e(7.83e-05) == "78.3 µg CO2e"  # per sample, once "7.83e-05 g"
    assert units.co2e(1500.0) == "1.50 kg CO2e"
    assert units.co2e(2_500_000.0) == "2.50 t CO2e"
    assert units.co2e(0.0) == "0 g CO2e"
    assert units.power(1250.0) == "1.25 kW"
    assert units.power(350.0) == "350 W"
    assert units.power(0.0) == "0 W"
    assert units.number(9.996) == "10.0"
    assert units.number(0.0783) == "0.0783"
    assert units.number(123_456.0) == "123,456"
    assert (units.count(1, "run"), units.count(0, "run"), units.count(1200, "run")) == (
        "1 run", "0 runs", "1,200 runs"
    )  # fmt: skip
    assert [units.duration(s) for s in (42, 754, 3_900, 183_600)] == [
        "42 s", "12 min 34 s", "1 h 05 min", "2 d 3 h"
    ]  # fmt: skip
    assert (units.money(1234.5, "EUR"), units.money(0.001, "USD"), units.money(0, "EUR")) == (
        "1,234.50 EUR", "< 0.01 USD", "0.00 EUR"
    )  # fmt: skip
    assert units.per_unit(None, "energy") == "-"
    assert [units.method(m) for m in ("tdp_model", "rapl", "estimate", "ram_model")] == [
        "tdp_model (estimate)", "rapl", "estimate", "ram_model (estimate)"
    ]  # fmt: skip


def test_equivalents_only_when_they_mean_something():
    """Both above their thresholds; a car distance in metres below a kilometre; nothing for a
    few watt-hours (once "≈ 0.0 km by car")."""
    assert units.equivalents(3_348_800.0, 2510.057175187812) == (
        "≈ 10 km by car · ≈ 10 litres boiled"
    )
    assert units.equivalents(33_488.0, 75.3) == "≈ 300 m by car · ≈ 0.1 litres boiled"
    assert units.equivalents(21_600.0, 2.286) == ""


def test_marks_flag_fallback_pricing_and_estimates():
    """World-average pricing is †, a ``*_model`` method *, a total carries any of its runs'."""
    plain = {"intensity_fallback": False, "cpu_methods": ["rapl"], "gpu_methods": ["nvml"]}
    fallback = {"intensity_fallback": True}
    estimated = {"ram_methods": ["ram_model"], "gpu_methods": ["nvml"]}
    assert [marks.of_run(r).mark for r in (plain, fallback, estimated, {})] == ["", "†", "*", ""]
    # RAM estimated by another writer, which names its method "estimate" or "estimated".
    said = [{"ram_methods": [name], "cpu_methods": ["rapl"]} for name in ("estimate", "estimated")]
    assert [marks.of_run(r).mark for r in said] == ["*", "*"]
    assert [marks.of_run({"cpu_methods": [m]}).mark for m in ("simulated", "nvml")] == ["", ""]
    assert marks.of_runs([plain, fallback, estimated]).mark == "†*"
    assert marks.marked("2.29 g CO2e", marks.of_run(fallback)) == "2.29 g CO2e †"
    assert marks.marked("2.29 g CO2e", marks.NONE) == "2.29 g CO2e"
    assert marks.LEGEND.startswith("† priced at the world-average intensity")


def test_live_stale_and_lost_runs():
    """Running and heard from within the limit: live; silent longer: stale; the job's status
    otherwise."""
    limit = timedelta(minutes=5)
    running = {"status": "running", "last_event_at": AT}
    assert liveness.state(running, AT + limit, limit) == "live"
    assert liveness.state(running, AT + limit + timedelta(seconds=1), limit) == "stale"
    assert liveness.status_text(running, AT + timedelta(minutes=61), limit) == (
        "stale (silent 1 h 01 min)"
    )
    assert liveness.state({"status": "lost", "last_event_at": AT}, AT, limit) == "lost"
    assert liveness.state({"status": "running"}, AT, limit) == "stale"


def test_settings_from_the_environment():
    """Defaults without variables; currency, prices per kWh and per region and the stale limit
    read; a bad value is an error naming its variable."""
    assert settings.from_env({}) == settings.DashSettings()
    s = settings.from_env({"DASH_CURRENCY": "USD", "DASH_PRICE_PER_KWH": "0.1",
                           "DASH_PRICE_PER_KWH_BY_REGION": "SE=0.05, DE=0.4",
                           "DASH_STALE_AFTER_S": "120"})  # fmt: skip
    assert (s.currency, s.price_per_kwh, dict(s.price_per_kwh_by_region), s.stale_after_s) == (
        "USD", 0.1, {"SE": 0.05, "DE": 0.4}, 120
    )  # fmt: skip
    assert (s.cost(3_600_000.0, "SE"), s.cost(3_600_000.0, "FR")) == (0.05, 0.1)
    for env, message in (
        ({"DASH_PRICE_PER_KWH": "cheap"}, "DASH_PRICE_PER_KWH='cheap' is not a number"),
        ({"DASH_PRICE_PER_KWH": "-1"}, "DASH_PRICE_PER_KWH='-1' must be a finite number"),
        ({"DASH_PRICE_PER_KWH_BY_REGION": "SE"}, "DASH_PRICE_PER_KWH_BY_REGION: 'SE' is not"),
        ({"DASH_CURRENCY": ""}, "DASH_CURRENCY='' must be 1 to 8 characters"),
    ):
        with pytest.raises(settings.SettingsError, match=f"^{re.escape(message)}"):
            settings.from_env(env)


def test_export_file_names_and_formats():
    """Names say what and when (UTC), with a run id made safe; an unknown format is refused."""
    at = datetime(2026, 6, 10, 12, 30, 20, tzinfo=UTC)
    assert exports.filename("runs", at, "csv") == "joulestream-runs-20260610T123020Z.csv"
    assert exports.filename("run-a/b c-windows", at, "json") == (
        "joulestream-run-a_b_c-windows-20260610T123020Z.json"
    )
    shown = exports.download([{"x_j": 1.5}], ["x_j"], "runs", at, "json")
    assert (shown["filename"], shown["type"], json.loads(shown["content"])) == (
        "joulestream-runs-20260610T123020Z.json", "application/json", [{"x_j": 1.5}]
    )  # fmt: skip
    with pytest.raises(ValueError, match="export format 'xlsx'"):
        exports.download([], [], "runs", at, "xlsx")


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
    """Parts are the server's sums per user, model and region: runs add up, not parts; a group
    with a flagged run is marked; cost is priced per region."""
    parts = [
        {"user_id": "alice", "model": "m1", "region": "SE", "runs": 2, "energy_j": 7200.0,
         "co2e_g": 1.5, "samples": 1000},
        {"user_id": "alice", "model": "m2", "region": "DE", "runs": 1, "energy_j": 3600.0,
         "co2e_g": 0.5, "samples": 0},
        {"user_id": "bob", "model": "m1", "region": "SE", "runs": 3, "energy_j": 0.0,
         "co2e_g": 0.0, "samples": 0},
    ]  # fmt: skip
    flagged = [{"user_id": "alice", "model": "m2", "intensity_fallback": True}]
    prices = settings.DashSettings(currency="SEK", price_per_kwh_by_region={"SE": 1.0})
    rows = figures.leaderboard(parts, "user_id", flagged, prices)
    assert [
        {k: r[k] for k in ("name", "runs", "energy", "co2e", "cost", "wh_per_1k", "g_per_kwh")}
        for r in rows
    ] == [
        {"name": "alice", "runs": 3, "energy": "3.00 Wh", "co2e": "2.00 g CO2e †",
         "cost": "< 0.01 SEK", "wh_per_1k": "3.00", "g_per_kwh": "667"},
        {"name": "bob", "runs": 3, "energy": "0 J", "co2e": "0 g CO2e", "cost": "0.00 SEK",
         "wh_per_1k": "-", "g_per_kwh": "-"},
    ]  # fmt: skip
    assert (rows[0]["cost_sek"], rows[0]["energy_wh_per_1k_samples"]) == (
        7200.0 / 3_600_000.0 * 1.0 + 3600.0 / 3_600_000.0 * 0.25, 3.0
    )  # fmt: skip
    assert (rows[0]["intensity_fallback"], rows[1]["intensity_fallback"]) == (True, False)
    assert [(r["name"], r["runs"]) for r in figures.leaderboard(parts, "model")] == [
        ("m1", 5),
        ("m2", 1),
    ]


def test_time_ranges_presets_custom_dates_and_their_address():
    """A preset ends now; custom days (to: the whole day) win over a preset; both go into the
    address, with the page's other parameters first."""
    now = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    assert params.time_range("7d", None, None, now) == (now - timedelta(days=7), None, [])
    assert params.time_range("all", None, "", now) == (None, None, [])
    assert params.time_range("7d", "2026-06-01", "2026-06-02", now) == (
        datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC), []
    )  # fmt: skip
    assert params.time_range("7d", "2026-02-30", None, now) == (
        None, None, ["from: '2026-02-30' is not a date; use YYYY-MM-DD (UTC)."]
    )  # fmt: skip
    assert params.range_search([("group", "model")], "30d", None, None) == (
        "?group=model&range=30d"
    )
    assert params.range_search([("group", "user")], "custom", "2026-06-01", "2026-06-02") == (
        "?group=user&from=2026-06-01&to=2026-06-02"
    )
    assert params.range_search([], None, None, None) == ""
    assert params.compare_search(["a b", "c,d", "a b"]) == "?runs=a%20b,c%2Cd"
    assert params.compare_search([]) == ""


def test_range_controls_stay_consistent():
    """A preset clears the dates; a date picked makes the range custom; clearing both falls
    back to all time."""
    from joulestream.dash_app.pages import common

    assert common.sync_range("fleet-range", "7d", "2026-06-01", None) == ("7d", None, None)
    assert common.sync_range("fleet-dates", "7d", "2026-06-01", None) == (
        "custom", "2026-06-01", None
    )  # fmt: skip
    assert common.sync_range("fleet-dates", "custom", None, None) == ("all", None, None)
    zoom = {"xaxis.range[0]": "2026-06-03 10:12:00.5", "xaxis.range[1]": "2026-06-05 01:00"}
    assert common.zoomed_days(zoom) == ("2026-06-03", "2026-06-05")
    assert common.zoomed_days({"xaxis.autorange": True}) is None
    assert common.zoomed_days({"xaxis.range[0]": {"$ne": 1}, "xaxis.range[1]": "x"}) is None
    assert common.zoomed_days({"xaxis.range[0]": "bogus-date", "xaxis.range[1]": "x"}) is None


def test_date_pickers_sit_in_rows_as_wide_as_their_controls():
    """Dash's date picker grows to fill a flex row: Leaderboards' range row (and the run page's
    greenest row) are inline-flex, as narrow as their controls, like Fleet's (a flex item)."""
    from joulestream.dash_app.pages import common, leaderboards

    page = leaderboards.layout(params.Route("leaderboards"))
    rows = [c for c in page.children if getattr(c, "className", None) == "range-controls"]
    assert len(rows) == 1
    assert [type(c).__name__ for c in rows[0].children] == ["Label", "Dropdown", "DatePickerRange"]
    assert rows[0].style == {
        "display": "inline-flex", "gap": "8px", "alignItems": "center", "flexWrap": "wrap",
        "maxWidth": "100%",
    }  # fmt: skip
    greenest_row: Any = run_page.greenest_controls({})
    assert greenest_row.style == common.COMPACT_ROW


def test_granularity_follows_the_range():
    """With hourly rollups: hours up to two days, days up to two months, weeks beyond; buckets
    start on the hour, the day or the Monday."""
    hour = timedelta(hours=1)
    assert [figures.granularity(timedelta(days=d), hour).name for d in (1, 2, 3, 7, 30, 90)] == [
        "hour", "hour", "day", "day", "day", "week"
    ]  # fmt: skip
    assert figures.granularity(None, hour) == figures.WEEK
    at = datetime(2026, 6, 10, 13, 45, tzinfo=UTC)  # a Wednesday
    sizes = (figures.HOUR, figures.DAY, figures.WEEK)
    assert [figures.bucket_start(at, size) for size in sizes] == [
        datetime(2026, 6, 10, 13, tzinfo=UTC),
        datetime(2026, 6, 10, tzinfo=UTC),
        datetime(2026, 6, 8, tzinfo=UTC),
    ]
    rollups = [
        {"user_id": "a", "period_start": at, "energy_j": 3600.0},
        {"user_id": "a", "period_start": at + timedelta(hours=3), "energy_j": 3600.0},
    ]
    daily = figures.fleet_figure(rollups, "user_id", "energy_j", None, figures.DAY)
    assert (list(daily.data[0].x), list(daily.data[0].y)) == (
        [datetime(2026, 6, 10, 12, tzinfo=UTC)], [2.0]
    )  # fmt: skip
    assert daily.layout.title.text == "Energy per day by user"


def test_granularity_is_never_finer_than_the_rollups_period():
    """15-minute rollups: 15-minute bars up to 12 h, hours up to two days; 2-hour rollups: 2-hour
    bars up to four days, then days, never hours; daily rollups: days, then weeks. Without
    rollups the hourly sizes."""
    quarter, two_hours = timedelta(minutes=15), timedelta(hours=2)
    spans = [timedelta(hours=h) for h in (12, 13, 48, 96, 97)]
    assert [figures.granularity(s, quarter).name for s in spans] == [
        "15 minutes", "hour", "hour", "day", "day"
    ]  # fmt: skip
    assert [figures.granularity(s, two_hours).name for s in spans] == [
        "2 hours", "2 hours", "2 hours", "2 hours", "day"
    ]  # fmt: skip
    assert figures.granularities(timedelta(days=1)) == [figures.DAY, figures.WEEK]
    assert figures.granularities(None) == [figures.HOUR, figures.DAY, figures.WEEK]
    assert figures.bucket_start(datetime(2026, 6, 10, 13, 59, tzinfo=UTC), figures.Granularity(
        "2 hours", two_hours
    )) == datetime(2026, 6, 10, 12, tzinfo=UTC)  # fmt: skip


def test_fleet_figure_draws_bars_of_the_rollups_period():
    """15-minute rollups in 15-minute bars: a bar each, centred on its period, 90 % wide."""
    quarter = figures.granularity(timedelta(hours=6), timedelta(minutes=15))
    at = datetime(2026, 6, 10, 13, 45, tzinfo=UTC)
    rollups = [
        {"user_id": "a", "period_start": at, "energy_j": 3600.0},
        {"user_id": "a", "period_start": at + timedelta(minutes=15), "energy_j": 7200.0},
    ]
    figure = figures.fleet_figure(rollups, "user_id", "energy_j", None, quarter)
    assert (list(figure.data[0].x), list(figure.data[0].y), figure.data[0].width) == (
        [
            datetime(2026, 6, 10, 13, 52, 30, tzinfo=UTC),
            datetime(2026, 6, 10, 14, 7, 30, tzinfo=UTC),
        ],
        [1.0, 2.0],
        810_000.0,
    )
    assert (figure.layout.title.text, figure.layout.xaxis.title.text) == (
        "Energy per 15 minutes by user", "15 minutes (UTC)"
    )  # fmt: skip


def test_lengths_are_read_from_the_documents():
    """A run's windows have one length (none when they have several or there are none); the
    rollups' period is the longest of theirs."""
    minute = [window(AT, 1.0), window(AT + timedelta(minutes=1), 1.0)]
    assert lengths.window_length(minute) == timedelta(minutes=1)
    half = {"window_start": AT, "window_end": AT + timedelta(seconds=30)}
    assert (lengths.window_length([*minute, half]), lengths.window_length([])) == (None, None)
    empty = {"window_start": AT, "window_end": AT}
    assert lengths.window_length([*minute, empty]) == timedelta(minutes=1)
    rollups = [
        {"period_start": AT, "period_end": AT + timedelta(hours=1)},
        {"period_start": AT, "period_end": AT + timedelta(hours=2)},
        {"period_start": AT},
    ]
    assert (lengths.period_length(rollups), lengths.period_length([])) == (
        timedelta(hours=2), None
    )  # fmt: skip


def test_lengths_are_named_as_texts_say_them():
    """Nouns after "per" and adjectives before a noun, in the largest unit that divides."""
    seconds = (30, 60, 90, 900, 3600, 7200, 86_400, 172_800)
    assert [lengths.name(timedelta(seconds=s)) for s in seconds] == [
        "30 seconds", "minute", "90 seconds", "15 minutes", "hour", "2 hours", "day", "2 days"
    ]  # fmt: skip
    assert [lengths.adjective(timedelta(seconds=s)) for s in seconds] == [
        "30-second", "1-minute", "90-second", "15-minute", "hourly", "2-hour", "daily", "2-day"
    ]  # fmt: skip
    assert lengths.adjective(timedelta(milliseconds=1500)) == "1500-millisecond"
    with pytest.raises(ValueError, match="longer than zero, got 0:00:00"):
        lengths.name(timedelta(0))


def test_power_chart_and_peak_name_the_windows_length():
    """One-minute windows are "1-minute means", 30-second ones "30-second means"; without
    windows the peak's label names no length."""
    half = [{**window(AT, 60.0), "window_end": AT + timedelta(seconds=30)}]
    assert [figures.power_figure(w).layout.title.text for w in ([window(AT, 60.0)], half)] == [
        "Power per component (1-minute means)", "Power per component (30-second means)"
    ]  # fmt: skip
    assert [run_page.peak_label(w) for w in ([window(AT, 60.0)], half, [])] == [
        "Peak power (highest 1-minute mean): ",
        "Peak power (highest 30-second mean): ",
        "Peak power (highest window mean): ",
    ]


def test_fleet_note_names_the_rollups_period():
    """Hourly or 15-minute periods by the rollups' own length, "periods" without rollups; energy
    the runs hold beyond the rollups is said, a rounding's worth is not."""
    assert [
        fleet_page.pending_note(7200.0, 3600.0, timedelta(hours=1)),
        fleet_page.pending_note(7200.0, 7200.0, timedelta(minutes=15)),
        fleet_page.pending_note(1e9, 1e9 - 1e-4, None),
    ] == [
        "1.00 Wh measured by running runs is not yet in the hourly periods",
        "Today, This week and All time add up the same 15-minute periods",
        "Today, This week and All time add up the same periods",
    ]


def test_leaderboard_parts_over_a_range():
    """Energy and CO2e from the range's rollups; runs counted once each; efficiency from the
    runs' own totals where they report samples."""
    rollups = [
        {"user_id": "a", "model": "m", "region": "SE", "energy_j": 100.0, "co2e_g": 1.0},
        {"user_id": "a", "model": "m", "region": "SE", "energy_j": 50.0, "co2e_g": 0.5},
    ]
    runs = [
        {"user_id": "a", "model": "m", "region": "SE", "samples": 10, "energy_j": 400.0},
        {"user_id": "a", "model": "m", "region": "SE", "samples": 0, "energy_j": 9.0},
    ]
    assert figures.range_parts(rollups, runs) == [
        {"user_id": "a", "model": "m", "region": "SE", "runs": 2, "energy_j": 150.0,
         "co2e_g": 1.5, "samples": 10, "samples_energy_j": 400.0}
    ]  # fmt: skip


def live_run(**changes: object) -> dict[str, Any]:
    """Running for 10 min (12:00 to 12:10), heard from a minute ago, 3,600 J and 1 g so far."""
    run: dict[str, Any] = {
        "status": "running", "started_at": AT.replace(hour=12, minute=0, second=0),
        "last_event_at": AT.replace(hour=12, minute=10, second=0), "energy_j": 3600.0,
        "co2e_g": 1.0, "step": 30, "epoch": 1,
    }  # fmt: skip
    run.update(changes)
    return run


NOW_LIVE = AT.replace(hour=12, minute=11, second=0)
STALE_AFTER = timedelta(minutes=5)


def test_eta_and_projection_follow_the_plan_at_the_pace_so_far():
    """30 of 100 steps in 600 s: 1,400 s to go, ending 12:33:20, totals x 100/30. With only
    epochs planned, the epoch in progress (1) means one epoch done: 3 more of 600 s each."""
    shown = figures.projection(live_run(planned_steps=100), NOW_LIVE, STALE_AFTER)
    assert shown == figures.Projection(
        unit="step", done=30, planned=100, eta_s=1400.0,
        ends_at=AT.replace(hour=12, minute=33, second=20), energy_j=3600.0 * 100 / 30,
        co2e_g=1.0 * 100 / 30,
    )  # fmt: skip
    by_epoch = figures.projection(live_run(planned_epochs=4), NOW_LIVE, STALE_AFTER)
    assert by_epoch is not None
    assert (by_epoch.unit, by_epoch.done, by_epoch.eta_s, by_epoch.energy_j) == (
        "epoch", 1, 1800.0, 14400.0
    )  # fmt: skip
    both = figures.projection(live_run(planned_steps=60, planned_epochs=4), NOW_LIVE, STALE_AFTER)
    assert both is not None
    assert (both.unit, both.eta_s) == ("step", 600.0)


@pytest.mark.parametrize(
    "changes",
    [
        {},  # no plan
        {"planned_epochs": 4, "epoch": 0, "step": None},  # the first epoch is not done
        {"planned_steps": 100, "step": 0},  # nothing done: no pace yet
        {"planned_steps": 30},  # at its plan
        {"planned_steps": 100, "status": "completed"},  # over
        {"planned_steps": 100, "status": "lost"},
        {"planned_steps": 100, "last_event_at": AT.replace(hour=12, minute=0, second=0)},
        {"planned_steps": 100.5},  # not a count: not the job's
    ],
)
def test_no_eta_where_it_would_mean_nothing(changes):
    """No plan, no progress yet, the plan reached, a run that is not live, no elapsed time."""
    assert figures.projection(live_run(**changes), NOW_LIVE, STALE_AFTER) is None


def test_a_stale_run_has_no_eta():
    """Silent for longer than the stale limit: its pace says nothing about its end."""
    later = NOW_LIVE + timedelta(minutes=10)
    assert figures.projection(live_run(planned_steps=100), later, STALE_AFTER) is None


def test_the_gpu_panel_shows_each_devices_energy_and_utilisation():
    """Bars per GPU in index order, in the unit the largest reaches, each labelled with its
    time-weighted utilisation; a device that never said its utilisation says so; no per-GPU
    figures is a message."""
    run = {"gpus": [
        {"gpu_index": 1, "energy_j": 7200.0, "mean_utilisation": 0.875},
        {"gpu_index": 0, "energy_j": 3600.0, "mean_utilisation": None},
        {"gpu_index": "x", "energy_j": 1.0},
    ]}  # fmt: skip
    figure = figures.gpu_figure(run)
    assert list(figure.data[0].x) == ["GPU 0", "GPU 1"]
    assert list(figure.data[0].y) == [1.0, 2.0]
    assert list(figure.data[0].text) == ["busy: -", "88% busy"]
    assert figure.layout.yaxis.title.text == "energy (Wh)"
    assert figures.empty_message(figures.gpu_figure({"gpus": []})) == (
        "Per GPU: the run reported no per-GPU figures"
    )
    assert figures.is_empty(figures.gpu_figure({}))


def test_the_intensity_chart_shows_what_priced_each_window():
    """Per window start: the intensity that priced the whole window (its CO2e per kWh before
    PUE), the grid period's figure with its source where the series priced it, and the run's
    or table's figure; no grid trace when no window was grid-priced."""
    grid = {**window(AT, 3_600_000.0), "pue": 1.5, "co2e_g": 150.0 * 1.5,
            "grid_intensity_g_per_kwh": 150.0, "grid_source": "simulated",
            "intensity_g_per_kwh": 56.0, "intensity_source": "Ember 2023"}  # fmt: skip
    table = {**window(AT + timedelta(minutes=1), 0.0), "intensity_g_per_kwh": 56.0}
    figure = figures.intensity_figure([grid, table])
    assert [t.name for t in figure.data] == [
        "priced (whole window)", "grid series", "run_started or table"
    ]  # fmt: skip
    assert list(figure.data[0].y) == [150.0, None]
    assert list(figure.data[1].y) == [150.0, None]
    assert list(figure.data[1].text) == ["simulated", ""]
    assert list(figure.data[2].y) == [56.0, 56.0]
    assert [t.showlegend for t in figure.data] == [None, None, True]
    # No grid series; the first window priced by its intervals' own figures (3,600 g/kWh).
    intervals = {**window(AT, 3600.0), "intensity_g_per_kwh": 56.0}
    no_grid = figures.intensity_figure([intervals, table])
    assert [t.name for t in no_grid.data] == ["priced (whole window)", "run_started or table"]
    assert list(no_grid.data[1].y) == [56.0, 56.0]


def test_the_intensity_chart_is_one_named_line_when_the_run_or_table_priced_every_window():
    """Without a grid series or the intervals' own figures the window's price lies on the
    run's or table's figure: one line, in the legend, whose name says it priced every window.
    A window without energy has no price of its own and does not count against it."""
    priced = {**window(AT, 3600.0), "intensity_g_per_kwh": 3600.0, "intensity_source": "Ember 2023"}
    idle = {**window(AT + timedelta(minutes=1), 0.0), "intensity_g_per_kwh": 3600.0}
    figure = figures.intensity_figure([priced, idle])
    assert [(t.name, t.showlegend) for t in figure.data] == [
        ("run_started or table: priced every window", True)
    ]
    assert figures.TABLE_PRICED_ALL == "run_started or table: priced every window"
    assert list(figure.data[0].y) == [3600.0, 3600.0]
    assert list(figure.data[0].text) == ["Ember 2023", ""]
    assert figure.data[0].mode == "lines+markers"
    assert figures.empty_message(figures.intensity_figure([])) == (
        "Carbon intensity: no window yet"
    )
