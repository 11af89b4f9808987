"""Figure and table builders: pure functions of query results, in the units a person reads."""

from typing import Any

import plotly.graph_objects as go

J_PER_KWH = 3_600_000.0
J_PER_WH = 3_600.0

COMPONENTS = (("gpu_energy_j", "GPU"), ("cpu_energy_j", "CPU"), ("ram_energy_j", "RAM"))


def run_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of the runs table: energy in kWh, times as ISO strings."""
    rows = []
    for run in runs:
        rows.append(
            {
                "id": run.get("run_id"),  # DataTable's row id: selections follow the run
                "run_id": run.get("run_id"),
                "user_id": run.get("user_id"),
                "project": run.get("project"),
                "model": run.get("model"),
                "region": run.get("region"),
                "status": run.get("status"),
                "events": run.get("events"),
                "energy_kwh": round(float(run.get("energy_j") or 0.0) / J_PER_KWH, 4),
                "last_event_at": _iso(run.get("last_event_at")),
            }
        )
    return rows


def _iso(value: Any) -> str:  # noqa: ANN401 (a datetime or nothing)
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def energy_over_time(run_id: str | None, windows: list[dict[str, Any]]) -> go.Figure:
    """Energy per window, stacked by component, in Wh."""
    figure = go.Figure()
    starts = [w["window_start"] for w in windows]
    for field, label in COMPONENTS:
        figure.add_bar(x=starts, y=[w.get(field, 0.0) / J_PER_WH for w in windows], name=label)
    title = f"Energy per window, run {run_id}" if run_id else "Select a run"
    if run_id and not windows:
        title = f"Run {run_id}: no closed window yet"
    figure.update_layout(
        barmode="stack",
        title=title,
        xaxis_title="window start (UTC)",
        yaxis_title="energy (Wh)",
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return figure
