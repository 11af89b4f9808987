from datetime import UTC, datetime

from dash_app import figures
from dash_app.app import selected_run


def test_run_rows_convert_joules_to_kwh():
    """3.6 MJ is shown as 1 kWh, times as UTC strings."""
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = figures.run_rows([{"run_id": "r", "energy_j": 3_600_000.0, "last_event_at": at}])
    assert (rows[0]["id"], rows[0]["energy_kwh"]) == ("r", 1.0)
    assert rows[0]["last_event_at"] == "2026-01-02 03:04:05"


def test_energy_over_time_stacks_components_in_wh():
    """One bar series per component, values in Wh."""
    at = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    window = {"window_start": at, "gpu_energy_j": 7200.0, "cpu_energy_j": 3600.0}
    figure = figures.energy_over_time("r", [window])
    assert [trace.name for trace in figure.data] == ["GPU", "CPU", "RAM"]
    assert [trace.y[0] for trace in figure.data] == [2.0, 1.0, 0.0]


def test_empty_run_says_so():
    """A run without a closed window gets a title saying so instead of an empty chart."""
    assert "no closed window yet" in figures.energy_over_time("r", []).layout.title.text


def test_selected_run_follows_the_run_not_the_row():
    """The selection is a run id, whatever its row; with none the busiest run is shown."""
    rows = [{"id": "b", "run_id": "b", "events": 2}, {"id": "a", "run_id": "a", "events": 60}]
    assert selected_run(rows, None) == "a"
    assert selected_run(rows, ["b"]) == "b"
    assert selected_run(rows, ["a"]) == "a"
    assert selected_run([], None) is None
