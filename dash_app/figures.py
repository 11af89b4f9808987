"""Figure and table builders: pure functions of query results, in the units a person reads.

Text from the documents (ids, names) goes through ``escape`` wherever something interprets it:
the runs table's markdown, Plotly's labels, the CSV export."""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import accumulate
from typing import Any

import plotly.graph_objects as go

from joulestream.dash_app import escape, units

Document = dict[str, Any]
COMPONENTS = (("gpu_energy_j", "GPU"), ("cpu_energy_j", "CPU"), ("ram_energy_j", "RAM"))
MARGIN = {"l": 60, "r": 20, "t": 50, "b": 50}


def empty_figure(message: str) -> go.Figure:
    """A blank chart that says why it is blank."""
    figure = go.Figure()
    figure.update_layout(
        title=message,
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin=MARGIN,
        height=320,
    )
    return figure


def _layout(figure: go.Figure, title: str, x: str, y: str, **extra: Any) -> go.Figure:  # noqa: ANN401
    figure.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, margin=MARGIN, height=360, **extra
    )
    return figure


def _iso(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def run_rows(runs: Iterable[Document]) -> list[Document]:
    """Rows of the runs table: energy in kWh, CO2e in kg, times as UTC strings; the run id links
    to its page (as literal text, to the encoded id)."""
    rows = []
    for run in runs:
        run_id = str(run.get("run_id"))
        rows.append(
            {
                "id": run_id,  # DataTable's row id: selections follow the run
                "run": escape.run_link(run_id),
                "run_id": run_id,
                "user_id": run.get("user_id"),
                "project": run.get("project"),
                "model": run.get("model"),
                "dataset": run.get("dataset"),
                "framework": run.get("framework"),
                "region": run.get("region"),
                "status": run.get("status"),
                "events": run.get("events"),
                "energy_kwh": round(units.kwh(float(run.get("energy_j") or 0.0)), 4),
                "co2e_kg": round(float(run.get("co2e_g") or 0.0) / 1000.0, 4),
                "started_at": _iso(run.get("started_at")),
                "last_event_at": _iso(run.get("last_event_at")),
            }
        )
    return rows


def window_length_s(window: Document) -> float:
    length_s: float = (window["window_end"] - window["window_start"]).total_seconds()
    return length_s


def power_w(window: Document, field: str = "energy_j") -> float:
    """Mean power over a window: its energy over its length."""
    return float(window.get(field) or 0.0) / window_length_s(window)


def power_now_w(running: Iterable[Document], since: datetime) -> tuple[float, int]:
    """(watts, runs reporting): the sum of ``power_w`` (mean power of each run's latest
    measurement) over the running runs whose last event is at or after ``since``. A run that has
    sent nothing since then is not drawing power "now" as far as we know (a trainer that died
    without ``run_finished`` stays ``running`` for ever), and one without a measurement yet has
    ``power_w`` null: both are left out."""
    watts = 0.0
    reporting = 0
    for run in running:
        last = run.get("last_event_at")
        if run.get("power_w") is None or last is None or last < since:
            continue
        watts += float(run["power_w"])
        reporting += 1
    return watts, reporting


def power_figure(windows: list[Document]) -> go.Figure:
    """Mean power per component per window, stacked, in W."""
    if not windows:
        return empty_figure("Power: no closed window yet")
    figure = go.Figure()
    ends = [w["window_end"] for w in windows]
    for field, label in COMPONENTS:
        figure.add_scatter(
            x=ends, y=[power_w(w, field) for w in windows], name=label, stackgroup="power"
        )
    return _layout(figure, "Power per component", "window end (UTC)", "power (W)")


def cumulative(windows: list[Document]) -> tuple[list[float], list[float]]:
    """Cumulative energy (J) and CO2e (g) at the end of each window."""
    energy_j = list(accumulate(float(w.get("energy_j") or 0.0) for w in windows))
    co2e_g = list(accumulate(float(w.get("co2e_g") or 0.0) for w in windows))
    return energy_j, co2e_g


def cumulative_figure(windows: list[Document]) -> go.Figure:
    """Cumulative energy (kWh, left) and CO2e (kg, right) over time."""
    if not windows:
        return empty_figure("Cumulative energy: no closed window yet")
    energy_j, co2e_g = cumulative(windows)
    ends = [w["window_end"] for w in windows]
    figure = go.Figure()
    figure.add_scatter(x=ends, y=[units.kwh(e) for e in energy_j], name="energy (kWh)")
    figure.add_scatter(x=ends, y=[g / 1000.0 for g in co2e_g], name="CO2e (kg)", yaxis="y2")
    return _layout(
        figure,
        "Cumulative energy and CO2e (closed windows)",
        "window end (UTC)",
        "energy (kWh)",
        yaxis2={"title": "CO2e (kg)", "overlaying": "y", "side": "right"},
    )


def priced_co2e_g(energy_j: float, run: Document, intensity_g_per_kwh: float) -> float:
    """``energy_j`` priced like the job prices it: with the run's PUE and this intensity."""
    return energy_j * float(run.get("pue") or 1.0) * intensity_g_per_kwh / units.J_PER_KWH


def epoch_co2e_g(epoch: Document, run: Document) -> float:
    """An epoch's CO2e, priced with its run's PUE and intensity (epochs are not priced)."""
    intensity = float(run.get("intensity_g_per_kwh") or 0.0)
    return priced_co2e_g(float(epoch.get("energy_j") or 0.0), run, intensity)


def epochs_figure(epochs: list[Document], run: Document) -> go.Figure:
    """Energy per epoch in kWh, its CO2e in the hover text."""
    if not epochs:
        return empty_figure("Energy per epoch: no epoch reported")
    figure = go.Figure()
    figure.add_bar(
        x=[e["epoch"] for e in epochs],
        y=[units.kwh(float(e.get("energy_j") or 0.0)) for e in epochs],
        text=[units.co2e(epoch_co2e_g(e, run)) for e in epochs],
        name="energy",
    )
    figure.update_xaxes(dtick=1)  # epochs are whole numbers
    return _layout(figure, "Energy per epoch", "epoch", "energy (kWh)")


def progress_figure(windows: list[Document]) -> go.Figure:
    """Loss and accuracy at the end of each window against the energy spent by then (kWh)."""
    energy_j, _ = cumulative(windows)
    points = [(units.kwh(e), w) for e, w in zip(energy_j, windows, strict=True)]
    figure = go.Figure()
    for field in ("loss", "accuracy"):
        shown = [(x, w[field]) for x, w in points if w.get(field) is not None]
        if shown:
            figure.add_scatter(
                x=[x for x, _ in shown],
                y=[y for _, y in shown],
                name=field,
                mode="lines+markers",
                yaxis="y2" if field == "accuracy" else "y",
            )
    if not figure.data:
        return empty_figure("Loss and accuracy: none reported")
    return _layout(
        figure,
        "Loss and accuracy against energy spent",
        "energy spent (kWh)",
        "loss",
        yaxis2={"title": "accuracy", "overlaying": "y", "side": "right"},
    )


def what_if_co2e_g(run: Document, intensity_g_per_kwh: float) -> float:
    """The run's energy priced with another intensity, with the run's PUE."""
    return priced_co2e_g(float(run.get("energy_j") or 0.0), run, intensity_g_per_kwh)


def fleet_series(
    rollups: list[Document], group_field: str, metric: str, since: datetime | None
) -> dict[str, dict[datetime, float]]:
    """``metric`` per group per period, from rollups of periods starting at or after ``since``."""
    series: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    for rollup in rollups:
        if since is None or rollup["period_start"] >= since:
            series[str(rollup.get(group_field))][rollup["period_start"]] += float(
                rollup.get(metric) or 0.0
            )
    return series


def fleet_figure(
    rollups: list[Document], group_field: str, metric: str, since: datetime | None
) -> go.Figure:
    """Energy (kWh) or CO2e (kg) per period, stacked by ``group_field``."""
    name, label, scale = {
        "energy_j": ("Energy", "energy (kWh)", units.J_PER_KWH),
        "co2e_g": ("CO2e", "CO2e (kg)", 1e3),
    }[metric]
    series = fleet_series(rollups, group_field, metric, since)
    if not series:
        return empty_figure(f"{name}: nothing measured in this range")
    figure = go.Figure()
    for group in sorted(series):
        points = sorted(series[group].items())
        figure.add_bar(
            x=[p for p, _ in points], y=[v / scale for _, v in points], name=escape.plotly(group)
        )
    title = f"{name} per hour by {group_field.removesuffix('_id')}"
    return _layout(figure, title, "period start (UTC)", label, barmode="stack")


def totals_since(rollups: list[Document], since: datetime) -> tuple[float, float]:
    """(energy_j, co2e_g) of the rollups of periods starting at or after ``since``."""
    shown = [r for r in rollups if r["period_start"] >= since]
    return (
        sum(float(r.get("energy_j") or 0.0) for r in shown),
        sum(float(r.get("co2e_g") or 0.0) for r in shown),
    )


def leaderboard(parts: list[Document], group_field: str) -> list[Document]:
    """Per group: runs, energy (kWh), CO2e (kg), and efficiency: Wh per 1,000 samples and the
    effective intensity (g CO2e per kWh, PUE included); the most CO2e first. ``parts`` are sums
    of runs with their count, ``runs`` (``data.leaderboard_groups``)."""
    groups: dict[str, Document] = {}
    for part in parts:
        key = str(part.get(group_field))
        group = groups.setdefault(key, {"runs": 0, "energy_j": 0.0, "co2e_g": 0.0, "samples": 0})
        group["runs"] += int(part["runs"])
        group["energy_j"] += float(part.get("energy_j") or 0.0)
        group["co2e_g"] += float(part.get("co2e_g") or 0.0)
        group["samples"] += int(part.get("samples") or 0)
    rows = []
    for key, group in groups.items():
        energy_j, samples = group["energy_j"], group["samples"]
        rows.append(
            {
                "name": key,
                "runs": group["runs"],
                "energy_kwh": round(units.kwh(energy_j), 4),
                "co2e_kg": round(group["co2e_g"] / 1000.0, 4),
                "wh_per_1k_samples": round(energy_j / units.J_PER_WH / samples * 1000, 4)
                if samples
                else None,
                "g_per_kwh": round(group["co2e_g"] / units.kwh(energy_j), 1) if energy_j else None,
            }
        )
    return sorted(rows, key=lambda row: (-row["co2e_kg"], row["name"]))


def compare_series(
    run: Document, epochs: list[Document], windows: list[Document]
) -> tuple[list[float], list[float], list[tuple[float, float]]]:
    """One run's compare series: hours since it began, cumulative CO2e (kg) at each point, and
    (energy spent in kWh, loss) pairs. Per epoch when the run has epochs (one point at each
    epoch's end, CO2e priced with the run's PUE and intensity), else per closed window."""
    if epochs:
        first = min(e["started_at"] for e in epochs)
        ends = [e["ended_at"] for e in epochs]
        energy_j = list(accumulate(float(e.get("energy_j") or 0.0) for e in epochs))
        co2e_g = list(accumulate(epoch_co2e_g(e, run) for e in epochs))
        points = epochs
    elif windows:
        first = windows[0]["window_start"]
        ends = [w["window_end"] for w in windows]
        energy_j, co2e_g = cumulative(windows)
        points = windows
    else:
        return [], [], []
    hours = [(end - first).total_seconds() / 3600 for end in ends]
    loss = [
        (units.kwh(e), p["loss"])
        for e, p in zip(energy_j, points, strict=True)
        if p.get("loss") is not None
    ]
    return hours, [g / 1000.0 for g in co2e_g], loss


def compare_figures(
    runs: list[Document],
    epochs_by_run: dict[str, list[Document]],
    windows_by_run: dict[str, list[Document]],
) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Runs overlaid: cumulative CO2e (kg) against hours since each run began, energy per sample
    (J, the run's total from ``runs``), and loss against energy spent (kWh). A run with epochs is
    drawn per epoch (lines and markers), one without per one-minute window (``compare_series``)."""
    co2e = go.Figure()
    per_sample = go.Figure()
    loss = go.Figure()
    for run in runs:
        run_id = run["run_id"]
        label = escape.plotly(str(run_id))
        epochs = epochs_by_run.get(run_id, [])
        hours, co2e_kg, shown = compare_series(run, epochs, windows_by_run.get(run_id, []))
        mode = "lines+markers" if epochs else "lines"
        if hours:
            co2e.add_scatter(x=hours, y=co2e_kg, name=label, mode=mode)
        if shown:
            x, y = [x for x, _ in shown], [y for _, y in shown]
            loss.add_scatter(x=x, y=y, name=label, mode=mode)
        per_sample.add_bar(x=[label], y=[run.get("energy_j_per_sample") or 0.0], name=label)
    _layout(co2e, "Cumulative CO2e", "hours since the run began", "CO2e (kg)")
    _layout(per_sample, "Energy per sample", "run", "energy per sample (J)", showlegend=False)
    _layout(loss, "Loss against energy spent", "energy spent (kWh)", "loss")
    return co2e, per_sample, loss


def runs_csv(rows: list[Document], columns: list[tuple[str, str]]) -> str:
    """The runs table as CSV: a header of the columns' names, then one line per row (the plain
    run id, not its link), every text a spreadsheet would run as a formula neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([name for _, name in columns])
    for row in rows:
        writer.writerow([escape.csv_cell(row.get(key)) for key, _ in columns])
    return out.getvalue()
