"""Figure and table builders: pure functions of query results, in the units a person reads.

Text from the documents (ids, names) goes through ``escape`` wherever something interprets it:
the runs table's markdown, Plotly's labels, the CSV export."""

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

import plotly.graph_objects as go

from joulestream.dash_app import checks, escape, lengths, liveness, marks, theme, units
from joulestream.dash_app.settings import DashSettings
from joulestream.schemas import pricing

Document = dict[str, Any]
COMPONENTS = (("gpu_energy_j", "GPU"), ("cpu_energy_j", "CPU"), ("ram_energy_j", "RAM"))
MARGIN = {"l": 60, "r": 20, "t": 80, "b": 50}


# The Plotly template matching the components (``theme``), on transparent backgrounds so that
# the dark mode's stylesheet can recolour a figure drawn once for every viewer.
STYLE = {
    "template": theme.TEMPLATE,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
}


EMPTY = "empty"


def empty_figure(message: str) -> go.Figure:
    """A chart with nothing to draw, and why: the pages show ``message`` in its place
    (``is_empty``, ``common.chart``) instead of a blank frame."""
    figure = go.Figure()
    figure.update_layout(
        **STYLE,
        title=message,
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin=MARGIN,
        height=320,
        meta=EMPTY,
    )
    return figure


def is_empty(figure: go.Figure) -> bool:
    """Whether ``figure`` is one of ``empty_figure``'s."""
    return bool(figure.layout.meta == EMPTY)


def empty_message(figure: go.Figure) -> str:
    """What an empty figure says ("" for a figure with data)."""
    return str(figure.layout.title.text or "") if is_empty(figure) else ""


def _layout(figure: go.Figure, title: str, x: str, y: str, **extra: Any) -> go.Figure:  # noqa: ANN401
    figure.update_layout(
        **STYLE, title=title, xaxis_title=x, yaxis_title=y, margin=MARGIN, height=360
    )
    figure.update_layout(**extra)
    return figure


def _iso(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def cost_column(settings: DashSettings) -> str:
    """The export's cost column, named by its currency: ``cost_eur``."""
    return f"cost_{settings.currency.lower()}"


def run_record(run: Document, now: datetime, settings: DashSettings) -> Document:
    """One run as exports hold it: stored SI values, unit in every name, the marks as flags."""
    flags = marks.of_run(run)
    started, last = run.get("started_at"), run.get("last_event_at")
    duration_s = (last - started).total_seconds() if started and last else None
    energy_j = float(run.get("energy_j") or 0.0)
    stale_after = timedelta(seconds=settings.stale_after_s)
    return {
        **{field: run.get(field) for field in RECORD_FIELDS},
        "state": liveness.state(run, now, stale_after),
        "started_at_utc": started,
        "last_event_at_utc": last,
        "finished_at_utc": run.get("finished_at"),
        "duration_s": duration_s,
        "energy_j": energy_j,
        "mean_power_w": energy_j / duration_s if duration_s else None,
        "co2e_g": float(run.get("co2e_g") or 0.0),
        cost_column(settings): settings.cost(energy_j, run.get("region")),
        "intensity_fallback": flags.fallback,
        "energy_estimated": flags.estimate,
    }


RECORD_FIELDS = (
    "run_id",
    "user_id",
    "project",
    "model",
    "dataset",
    "framework",
    "region",
    "status",
    "events",
    "samples",
    "pue",
    "intensity_g_per_kwh",
    "energy_j_per_sample",
    "co2e_g_per_sample",
)


def run_rows(
    runs: Iterable[Document], now: datetime | None = None, settings: DashSettings | None = None
) -> list[Document]:
    """Rows of the runs tables: the run's record (``run_record``, which sorting and exports
    read) and what the table shows: energy, CO2e (marked) and cost in the unit each reaches,
    the status with stale runs told apart, times as UTC minutes, the run id as a link (literal
    text, to the encoded id)."""
    settings = settings or DashSettings()
    now = now or datetime.now(UTC)
    stale_after = timedelta(seconds=settings.stale_after_s)
    rows = []
    for run in runs:
        record = run_record(run, now, settings)
        flags = marks.of_run(run)
        run_id = str(run.get("run_id"))
        rows.append(
            {
                **record,
                "id": run_id,  # DataTable's row id: selections follow the run
                "run": escape.run_link(run_id),
                "status_shown": liveness.status_text(run, now, stale_after),
                "energy": units.energy(record["energy_j"]),
                "co2e": marks.marked(units.co2e(record["co2e_g"]), flags),
                "cost": units.money(record[cost_column(settings)], settings.currency),
                "started": _short_time(record["started_at_utc"]),
                "last_event": _short_time(record["last_event_at_utc"]),
            }
        )
    return rows


# A shown column → the value it sorts by (the raw number, not its text).
SORT_KEYS = {
    "run": "run_id",
    "status_shown": "status_shown",
    "energy": "energy_j",
    "co2e": "co2e_g",
    "started": "started_at_utc",
    "last_event": "last_event_at_utc",
}


def sorted_rows(
    rows: list[Document], sort_by: object, columns: list[str], keys: dict[str, str] | None = None
) -> list[Document]:
    """``rows`` in the order of a table's ``sort_by`` (the first column first), each shown
    column sorted by its raw value (``keys``, ``SORT_KEYS`` by default; ``cost`` by whatever
    cost column the rows have); an empty value goes last either way."""
    keys = SORT_KEYS if keys is None else keys
    ordered = list(rows)
    for column, descending in reversed(checks.sort_by(sort_by, columns)):
        field = keys.get(column, column)
        if column == "cost" and ordered:
            field = next((k for k in ordered[0] if k.startswith("cost_")), column)
        present = [row for row in ordered if row.get(field) not in (None, "")]
        empty = [row for row in ordered if row.get(field) in (None, "")]
        ordered = sorted(present, key=lambda row: row[field], reverse=descending) + empty
    return ordered


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


# Time ticks by their spacing: never finer than a second ("09:59:59.9996" is no time to read).
TIME_TICKS = [
    {"dtickrange": [None, 59_999], "value": "%H:%M:%S"},
    {"dtickrange": [60_000, 3_599_999], "value": "%H:%M"},
    {"dtickrange": [3_600_000, 86_399_999], "value": "%b %d %H:%M"},
    {"dtickrange": [86_400_000, None], "value": "%b %d"},
]
MIN_TIME_SPAN = timedelta(minutes=2)


def _time_axis(figure: go.Figure, times: list[datetime]) -> None:
    """Readable UTC time ticks; a span of less than two minutes (a young run, one window) is
    widened around its points so that they do not sit on one edge of a sub-second axis."""
    axis: Document = {"tickformatstops": TIME_TICKS, "hoverformat": "%Y-%m-%d %H:%M:%S"}
    if times and max(times) - min(times) < MIN_TIME_SPAN:
        middle = min(times) + (max(times) - min(times)) / 2
        axis["range"] = [middle - MIN_TIME_SPAN / 2, middle + MIN_TIME_SPAN / 2]
    figure.update_xaxes(**axis)


def _mode(points: int) -> str:
    """Markers where a line alone would be invisible (one or two points)."""
    return "lines+markers" if points <= 2 else "lines"


def window_means(windows: list[Document]) -> str:
    """What a window's power is, as texts name it: ``"1-minute mean"`` from the windows' own
    length (``"window mean"`` when they have none or several)."""
    length = lengths.window_length(windows)
    return f"{lengths.adjective(length)} mean" if length is not None else "window mean"


def power_figure(windows: list[Document]) -> go.Figure:
    """Mean power per component per window, stacked, in the unit the peak reaches."""
    if not windows:
        return empty_figure("Power: no window yet (none of the run's measurements is stored)")
    peak_w = max(power_w(w) for w in windows)
    factor, unit = units.unit_for(peak_w, units.POWER_UNITS)
    figure = go.Figure()
    ends = [w["window_end"] for w in windows]
    for field, label in COMPONENTS:
        figure.add_scatter(
            x=ends,
            y=[power_w(w, field) / factor for w in windows],
            name=label,
            stackgroup="power",
            mode=_mode(len(windows)),
        )
    _time_axis(figure, ends)
    figure.update_yaxes(rangemode="tozero")
    return _layout(
        figure,
        f"Power per component ({window_means(windows)}s)",
        "window end (UTC)",
        f"power ({unit})",
    )


def priced_intensity_g_per_kwh(window: Document) -> float | None:
    """The intensity that priced a window's energy as a whole: its CO2e per kWh before PUE
    (a mix where its intervals' own figures, a grid period and the run's or table's figure
    each priced a part). None for a window without energy."""
    energy_j = float(window.get("energy_j") or 0.0)
    pue = float(window.get("pue") or 1.0)
    if energy_j <= 0 or pue <= 0:
        return None
    return float(window.get("co2e_g") or 0.0) * pricing.J_PER_KWH / (energy_j * pue)


TABLE_PRICED_ALL = "run_started or table: priced every window"
"""The intensity chart's one line when that figure was the whole price of every window."""


def _table_priced(priced: float | None, figure: object) -> bool:
    """Whether a window's whole price is its run's or table's figure (or it has no energy)."""
    if priced is None:
        return True
    return isinstance(figure, int | float) and math.isclose(priced, figure, rel_tol=1e-9)


def intensity_figure(windows: list[Document]) -> go.Figure:
    """Per window start: the intensity that priced it, the grid period's figure where the
    region's hourly series priced it, and the run's or table's figure for the rest. When that
    last figure priced every window whole, one line named so (``TABLE_PRICED_ALL``): the
    window's price would lie on it and read as one line anyway."""
    if not windows:
        return empty_figure("Carbon intensity: no window yet")
    starts = [w["window_start"] for w in windows]
    priced = [priced_intensity_g_per_kwh(w) for w in windows]
    grid = [w.get("grid_intensity_g_per_kwh") for w in windows]
    table = [w.get("intensity_g_per_kwh") for w in windows]
    table_only = all(value is None for value in grid) and all(
        _table_priced(p, t) for p, t in zip(priced, table, strict=True)
    )
    figure = go.Figure()
    if not table_only:
        figure.add_scatter(
            x=starts, y=priced, name="priced (whole window)", mode=_mode(len(windows))
        )
    if any(value is not None for value in grid):
        figure.add_scatter(
            x=starts,
            y=grid,
            name="grid series",
            mode="markers",
            text=[escape.plotly(str(w.get("grid_source") or "")) for w in windows],
            hovertemplate="%{y:.0f} g/kWh, %{text}<extra>grid series</extra>",
        )
    name = TABLE_PRICED_ALL if table_only else "run_started or table"
    figure.add_scatter(
        x=starts,
        y=table,
        name=name,
        mode=_mode(len(windows)) if table_only else "lines",
        line={} if table_only else {"dash": "dot"},
        # A lone trace has no legend unless asked: its name is what says so.
        showlegend=True,
        text=[escape.plotly(str(w.get("intensity_source") or "")) for w in windows],
        hovertemplate=f"%{{y:.0f}} g/kWh, %{{text}}<extra>{name}</extra>",
    )
    _time_axis(figure, starts)
    figure.update_yaxes(rangemode="tozero")
    return _layout(
        figure, "Carbon intensity that priced each window", "window start (UTC)", "g CO2e/kWh"
    )


def peak_power_w(windows: list[Document]) -> float | None:
    """The highest one-window mean power: the run's peak as its windows resolve it."""
    return max((power_w(w) for w in windows), default=None)


def cumulative(windows: list[Document]) -> tuple[list[float], list[float]]:
    """Cumulative energy (J) and CO2e (g) at the end of each window."""
    energy_j = list(accumulate(float(w.get("energy_j") or 0.0) for w in windows))
    co2e_g = list(accumulate(float(w.get("co2e_g") or 0.0) for w in windows))
    return energy_j, co2e_g


def cumulative_figure(
    windows: list[Document], flags: marks.Flags = marks.NONE, started_at: datetime | None = None
) -> go.Figure:
    """Cumulative energy over time, in the unit its total reaches; the CO2e at each point in
    the hover. The line starts at zero at the run's start (``started_at``, else its first
    window's start), so that a young run's first minute reads from nothing, not from its first
    window's energy. One axis: CO2e follows energy at the run's one intensity, so a second line
    would only hide the first."""
    if not windows:
        return empty_figure("Cumulative energy: no window yet")
    energy_j, co2e_g = cumulative(windows)
    factor, unit = units.unit_for(energy_j[-1], units.ENERGY_UNITS)
    times = [origin(windows, started_at), *(w["window_end"] for w in windows)]
    figure = go.Figure()
    figure.add_scatter(
        x=times,
        y=[0.0, *(e / factor for e in energy_j)],
        name="energy",
        mode=_mode(len(windows)),
        text=[marks.marked(units.co2e(g), flags) for g in [0.0, *co2e_g]],
        hovertemplate=f"%{{x}}<br>%{{y:.3g}} {unit}<br>%{{text}}<extra></extra>",
    )
    _time_axis(figure, times)
    figure.update_yaxes(rangemode="tozero")
    return _layout(
        figure, "Cumulative energy (CO2e in the hover)", "time (UTC)", f"energy ({unit})"
    )


def origin(windows: list[Document], started_at: datetime | None = None) -> datetime:
    """Where a run's cumulative line starts at zero: its start, or its first window's start
    when the start is unknown or after the first window's end (a document of another shape)."""
    first = windows[0]
    if started_at is not None and started_at <= first["window_end"]:
        return started_at
    start: datetime = first["window_start"]
    return start


def priced_co2e_g(energy_j: float, run: Document, intensity_g_per_kwh: float) -> float:
    """``energy_j`` priced like the job prices it: with the run's PUE and this intensity."""
    return pricing.co2e_g(energy_j, float(run.get("pue") or 1.0), intensity_g_per_kwh)


def stored_co2e_g(doc: Document) -> float:
    """A document's CO2e as the job priced it (0 for one written before it was priced)."""
    return float(doc.get("co2e_g") or 0.0)


def epochs_figure(
    epochs: list[Document], run: Document, flags: marks.Flags = marks.NONE
) -> go.Figure:
    """Energy per epoch in the unit the largest reaches, its CO2e as the bar's text."""
    if not epochs:
        return empty_figure("Energy per epoch: no epoch reported")
    energies = [float(e.get("energy_j") or 0.0) for e in epochs]
    factor, unit = units.unit_for(max(energies), units.ENERGY_UNITS)
    figure = go.Figure()
    figure.add_bar(
        x=[e["epoch"] for e in epochs],
        y=[e / factor for e in energies],
        text=[marks.marked(units.co2e(stored_co2e_g(e)), flags) for e in epochs],
        name="energy",
    )
    figure.update_xaxes(dtick=1)  # epochs are whole numbers
    figure.update_yaxes(rangemode="tozero")
    return _layout(figure, "Energy per epoch", "epoch", f"energy ({unit})")


def progress_figure(windows: list[Document]) -> go.Figure:
    """Loss (and accuracy, on a 0-1 axis of its own only when reported) at the end of each
    window against the energy spent by then, in the unit the total reaches."""
    energy_j, _ = cumulative(windows)
    factor, unit = units.unit_for(energy_j[-1] if energy_j else 0.0, units.ENERGY_UNITS)
    points = [(e / factor, w) for e, w in zip(energy_j, windows, strict=True)]
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
    figure.update_xaxes(rangemode="tozero")
    figure.update_yaxes(rangemode="tozero")
    extra: Document = {}
    if any(trace.yaxis == "y2" for trace in figure.data):
        extra["yaxis2"] = {
            "title": "accuracy",
            "overlaying": "y",
            "side": "right",
            "range": [0, 1],
            "showgrid": False,
        }
    return _layout(
        figure, "Loss and accuracy against energy spent", f"energy spent ({unit})", "loss", **extra
    )


def what_if_co2e_g(run: Document, intensity_g_per_kwh: float) -> float:
    """The run's energy priced with another intensity, with the run's PUE."""
    return priced_co2e_g(float(run.get("energy_j") or 0.0), run, intensity_g_per_kwh)


@dataclass(frozen=True)
class Granularity:
    """The width of the fleet charts' bars: ``name`` as titles say it (``"hour"``,
    ``"15 minutes"``, ``"day"``) and its ``length``."""

    name: str
    length: timedelta


HOUR = Granularity("hour", timedelta(hours=1))
DAY = Granularity("day", timedelta(days=1))
WEEK = Granularity("week", timedelta(days=7))
# A range is drawn in the finest bars of which it holds at most this many, and in days up to
# two months: a few dozen bars.
MAX_BARS = 48
MAX_DAYS_SPAN = timedelta(days=62)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def granularities(period: timedelta | None) -> list[Granularity]:
    """The bars that rollups of ``period`` (``lengths.period_length``) add up into, finest
    first: the period itself, then hours, days and weeks where longer. Without rollups
    (nothing to draw) those of hourly ones."""
    if period is None:
        return [HOUR, DAY, WEEK]
    finest = next(
        (g for g in (HOUR, DAY, WEEK) if g.length == period),
        Granularity(lengths.name(period), period),
    )
    return [finest, *(g for g in (HOUR, DAY, WEEK) if g.length > period)]


def granularity(span: timedelta | None, period: timedelta | None = None) -> Granularity:
    """The bar width a range of ``span`` reads best in, from the rollups' ``period``: the
    finest of ``granularities`` that draws it in at most ``MAX_BARS`` bars (hours up to two
    days for hourly rollups), days up to two months, weeks beyond (and for all time). Never
    finer than the rollups' period."""
    sizes = granularities(period)
    for size in sizes:
        if span is None:
            break
        if size.length < DAY.length and span <= MAX_BARS * size.length:
            return size
        if size == DAY and span <= MAX_DAYS_SPAN:
            return size
    return sizes[-1]


def bucket_start(at: datetime, size: Granularity) -> datetime:
    """The start of ``at``'s bar, UTC: the ISO week's (Monday), or a whole number of bars
    since 1970, as the job aligns its periods (so an hour's or a day's start). A period that
    does not divide the bar counts in the bar of its start."""
    if size == WEEK:
        day = at.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    return EPOCH + (at - EPOCH) // size.length * size.length


BY_SOURCE = "pricing_source"
"""The Fleet's stack by pricing source: not a field, each rollup split by what priced it."""
SOURCES = {
    "energy_j": ("grid_priced_energy_j", "interval_priced_energy_j"),
    "co2e_g": ("grid_co2e_g", "interval_co2e_g"),
}


def by_source(rollup: Document, metric: str) -> dict[str, float]:
    """A rollup's energy or CO2e by what priced it: the hourly grid series, the measurements'
    own intensity, and the rest (the run's ``run_started`` or the yearly table). Rollups
    written before the job priced with the grid have neither part: all is the rest."""
    grid_field, interval_field = SOURCES[metric]
    total = float(rollup.get(metric) or 0.0)
    grid = float(rollup.get(grid_field) or 0.0)
    interval = float(rollup.get(interval_field) or 0.0)
    return {
        "grid series": grid,
        "measurement's own": interval,
        # Each part is rounded down apart: never below 0 by that rounding.
        "run_started or table": max(total - grid - interval, 0.0),
    }


def fleet_series(
    rollups: list[Document],
    group_field: str,
    metric: str,
    since: datetime | None,
    size: Granularity = HOUR,
    until: datetime | None = None,
) -> dict[str, dict[datetime, float]]:
    """``metric`` per group per bar (``size``: the rollups' period, hour, day or week), from
    rollups of periods starting at or after ``since`` and before ``until``."""
    series: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    for rollup in rollups:
        start = rollup["period_start"]
        if not ((since is None or start >= since) and (until is None or start < until)):
            continue
        bar = bucket_start(start, size)
        if group_field == BY_SOURCE:
            for source, value in by_source(rollup, metric).items():
                if value > 0 or source == "run_started or table":
                    series[source][bar] += value
        else:
            series[str(rollup.get(group_field))][bar] += float(rollup.get(metric) or 0.0)
    return series


def fleet_figure(
    rollups: list[Document],
    group_field: str,
    metric: str,
    since: datetime | None,
    size: Granularity = HOUR,
    until: datetime | None = None,
) -> go.Figure:
    """Energy or CO2e per bar (``size``), stacked by ``group_field``, in the unit the largest
    bar reaches; each bar as wide as its period."""
    name, steps = {
        "energy_j": ("Energy", units.ENERGY_UNITS),
        "co2e_g": ("CO2e", units.CO2E_UNITS),
    }[metric]
    series = fleet_series(rollups, group_field, metric, since, size, until)
    if not series:
        return empty_figure(f"{name}: nothing measured in this range")
    stacked: dict[datetime, float] = defaultdict(float)
    for values in series.values():
        for at, value in values.items():
            stacked[at] += value
    factor, unit = units.unit_for(max(stacked.values()), steps)
    width_ms = size.length.total_seconds() * 1000 * 0.9
    figure = go.Figure()
    for group in sorted(series):
        points = sorted(series[group].items())
        figure.add_bar(
            x=[p + size.length / 2 for p, _ in points],
            y=[v / factor for _, v in points],
            width=width_ms,
            name=escape.plotly(group),
        )
    figure.update_xaxes(tickformatstops=TIME_TICKS)
    if since is not None:
        # The whole range, so that one day of data reads as one day of seven, not a wall.
        figure.update_xaxes(range=[since, until or max(stacked) + size.length])
    figure.update_yaxes(rangemode="tozero")
    by = "pricing source" if group_field == BY_SOURCE else group_field.removesuffix("_id")
    title = f"{name} per {size.name} by {by}"
    label = f"{'energy' if metric == 'energy_j' else 'CO2e'} ({unit})"
    return _layout(figure, title, f"{size.name} (UTC)", label, barmode="stack")


def totals_since(rollups: list[Document], since: datetime) -> tuple[float, float]:
    """(energy_j, co2e_g) of the rollups of periods starting at or after ``since``."""
    shown = [r for r in rollups if r["period_start"] >= since]
    return (
        sum(float(r.get("energy_j") or 0.0) for r in shown),
        sum(float(r.get("co2e_g") or 0.0) for r in shown),
    )


def leaderboard(
    parts: list[Document],
    group_field: str,
    flagged: Iterable[Document] = (),
    settings: DashSettings | None = None,
) -> list[Document]:
    """Per group: runs, energy, CO2e (marked when a flagged run is in the group), cost, and
    efficiency: Wh per 1,000 samples and the effective intensity (g CO2e per kWh, PUE
    included); the most CO2e first. ``parts`` are sums of runs per user, model and region with
    their count, ``runs`` (``data.leaderboard_groups``); the cost is priced per region."""
    settings = settings or DashSettings()
    cost_key = cost_column(settings)
    flags: dict[str, marks.Flags] = defaultdict(lambda: marks.NONE)
    for run in flagged:
        flags[str(run.get(group_field))] |= marks.of_run(run)
    groups: dict[str, Document] = {}
    for part in parts:
        key = str(part.get(group_field))
        group = groups.setdefault(
            key,
            {"runs": 0, "energy_j": 0.0, "co2e_g": 0.0, "samples": 0, "samples_energy_j": 0.0,
             "cost": 0.0},
        )  # fmt: skip
        energy_j = float(part.get("energy_j") or 0.0)
        group["runs"] += int(part.get("runs") or 0)
        group["energy_j"] += energy_j
        group["co2e_g"] += float(part.get("co2e_g") or 0.0)
        group["samples"] += int(part.get("samples") or 0)
        group["samples_energy_j"] += float(part.get("samples_energy_j", energy_j) or 0.0)
        group["cost"] += settings.cost(energy_j, part.get("region"))
    rows = []
    for key, group in groups.items():
        energy_j, samples, co2e_g = group["energy_j"], group["samples"], group["co2e_g"]
        per_1k = group["samples_energy_j"] / units.J_PER_WH / samples * 1000 if samples else None
        g_per_kwh = co2e_g / units.kwh(energy_j) if energy_j else None
        rows.append(
            {
                "name": key,
                "runs": group["runs"],
                "energy_j": energy_j,
                "co2e_g": co2e_g,
                cost_key: group["cost"],
                "energy_wh_per_1k_samples": per_1k,
                "intensity_g_per_kwh": g_per_kwh,
                "intensity_fallback": flags[key].fallback,
                "energy_estimated": flags[key].estimate,
                "energy": units.energy(energy_j),
                "co2e": marks.marked(units.co2e(co2e_g), flags[key]),
                "cost": units.money(group["cost"], settings.currency),
                "wh_per_1k": units.number(per_1k) if per_1k is not None else "-",
                "g_per_kwh": f"{g_per_kwh:,.0f}" if g_per_kwh is not None else "-",
            }
        )
    return sorted(rows, key=lambda row: (-row["co2e_g"], row["name"]))


def range_parts(rollups: Iterable[Document], runs: Iterable[Document]) -> list[Document]:
    """Leaderboard parts over a time range: energy and CO2e from the range's
    ``rollups``, the runs active in it counted from ``runs``, whose whole totals give the
    samples and the energy they cost (``samples_energy_j``: efficiency is a run's, not a
    period's, as rollups count no samples)."""
    parts: dict[tuple[str, str, str], Document] = {}

    def part(doc: Document) -> Document:
        key = (str(doc.get("user_id")), str(doc.get("model")), str(doc.get("region")))
        return parts.setdefault(
            key,
            {"user_id": key[0], "model": key[1], "region": key[2], "runs": 0, "energy_j": 0.0,
             "co2e_g": 0.0, "samples": 0, "samples_energy_j": 0.0},
        )  # fmt: skip

    for rollup in rollups:
        shown = part(rollup)
        shown["energy_j"] += float(rollup.get("energy_j") or 0.0)
        shown["co2e_g"] += float(rollup.get("co2e_g") or 0.0)
    for run in runs:
        shown = part(run)
        shown["runs"] += 1
        shown["samples"] += int(run.get("samples") or 0)
        if run.get("samples"):
            shown["samples_energy_j"] += float(run.get("energy_j") or 0.0)
    return list(parts.values())


LEADERBOARD_SORT_KEYS = {
    "energy": "energy_j",
    "co2e": "co2e_g",
    "wh_per_1k": "energy_wh_per_1k_samples",
    "g_per_kwh": "intensity_g_per_kwh",
}


# A run with fewer epochs than this is drawn per window: one point says nothing.
MIN_COMPARE_EPOCHS = 2
SHORT_ID_CHARS = 8


def run_label(run: Document) -> str:
    """A run as a legend names it: ``alice · resnet50 · 3f2a9c1e``, with its marks (escape it
    for Plotly)."""
    run_id = str(run.get("run_id"))
    names = [str(run[field]) for field in ("user_id", "model") if run.get(field)]
    short = run_id if len(run_id) <= SHORT_ID_CHARS + 1 else f"{run_id[:SHORT_ID_CHARS]}…"
    label = " · ".join([*names, short]) if names else run_id
    return marks.marked(label, marks.of_run(run))


def compare_series(
    run: Document, epochs: list[Document], windows: list[Document]
) -> tuple[list[float], list[float], list[tuple[float, float]]]:
    """One run's compare series: seconds since it began, cumulative CO2e (g) at each point, and
    (energy spent in J, loss) pairs. Per epoch when the run has at least
    ``MIN_COMPARE_EPOCHS`` (one point at each epoch's end, with the CO2e the job priced), else per
    window. The CO2e starts at zero at second zero, so that every run's line reads from its
    start, not from its first epoch's or window's end."""
    if len(epochs) >= MIN_COMPARE_EPOCHS or (epochs and not windows):
        first = min(e["started_at"] for e in epochs)
        ends = [e["ended_at"] for e in epochs]
        energy_j = list(accumulate(float(e.get("energy_j") or 0.0) for e in epochs))
        co2e_g = list(accumulate(stored_co2e_g(e) for e in epochs))
        points = epochs
    elif windows:
        first = windows[0]["window_start"]
        ends = [w["window_end"] for w in windows]
        energy_j, co2e_g = cumulative(windows)
        points = windows
    else:
        return [], [], []
    seconds = [0.0, *((end - first).total_seconds() for end in ends)]
    loss = [
        (e, p["loss"]) for e, p in zip(energy_j, points, strict=True) if p.get("loss") is not None
    ]
    return seconds, [0.0, *co2e_g], loss


def per_sample_j(run: Document) -> float | None:
    """The run's energy per training sample, None when it reported no samples (the job writes
    null; a zero cannot be a run's energy per sample either)."""
    value = run.get("energy_j_per_sample")
    return float(value) if value is not None and float(value) > 0 else None


def compare_figures(
    runs: list[Document],
    epochs_by_run: dict[str, list[Document]],
    windows_by_run: dict[str, list[Document]],
) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Runs overlaid: cumulative CO2e against time since each run began (minutes, or hours past
    two), energy per sample (the run's total from ``runs``), and loss against energy spent;
    every axis in the unit its largest value reaches. A run with epochs is drawn per epoch
    (lines and markers), one without per window (``compare_series``); runs are named
    by user, model and a short id (``run_label``)."""
    series = {}
    for run in runs:
        run_id = run["run_id"]
        epochs = epochs_by_run.get(run_id, [])
        series[run_id] = compare_series(run, epochs, windows_by_run.get(run_id, []))
    longest_s = max((s[-1] for s, _, _ in series.values() if s), default=0.0)
    time_factor, time_unit = (3600.0, "hours") if longest_s >= 7200 else (60.0, "minutes")
    co2e_factor, co2e_unit = units.unit_for(
        max((c[-1] for _, c, _ in series.values() if c), default=0.0), units.CO2E_UNITS
    )
    energy_factor, energy_unit = units.unit_for(
        max((pairs[-1][0] for _, _, pairs in series.values() if pairs), default=0.0),
        units.ENERGY_UNITS,
    )
    per_sample_values = [per_sample_j(r) for r in runs]
    sample_factor, sample_unit = units.unit_for(
        max((j for j in per_sample_values if j is not None), default=0.0), units.ENERGY_UNITS
    )
    co2e, per_sample, loss = go.Figure(), go.Figure(), go.Figure()
    for run, sample_j in zip(runs, per_sample_values, strict=True):
        label = escape.plotly(run_label(run))
        seconds, co2e_g, shown = series[run["run_id"]]
        # Markers where a line alone would be invisible: two points or fewer after the origin.
        few = len(seconds) <= 3
        mode = "lines+markers" if few or epochs_by_run.get(run["run_id"]) else "lines"
        if seconds:
            x = [t / time_factor for t in seconds]
            co2e.add_scatter(x=x, y=[g / co2e_factor for g in co2e_g], name=label, mode=mode)
        if shown:
            loss.add_scatter(
                x=[e / energy_factor for e, _ in shown],
                y=[y for _, y in shown],
                name=label,
                mode=mode,
            )
        # A run without samples keeps its place on the axis but gets no bar (a zero-height bar
        # would read as "no energy per sample"); a note above its place says why.
        per_sample.add_bar(
            x=[label], y=[None if sample_j is None else sample_j / sample_factor], name=label
        )
        if sample_j is None:
            per_sample.add_annotation(
                x=label, y=0, yanchor="bottom", text="no samples reported", showarrow=False
            )
    for figure in (co2e, per_sample, loss):
        figure.update_xaxes(rangemode="tozero")
        figure.update_yaxes(rangemode="tozero")
    if all(j is None for j in per_sample_values):
        per_sample.update_yaxes(range=[0, 1])  # no bar at all: an axis from zero, not from -1
    _layout(co2e, "Cumulative CO2e", f"{time_unit} since the run began", f"CO2e ({co2e_unit})")
    _layout(
        per_sample,
        "Energy per sample",
        "run",
        f"energy per sample ({sample_unit})",
        showlegend=False,
    )
    _layout(loss, "Loss against energy spent", f"energy spent ({energy_unit})", "loss")
    return co2e, per_sample, loss


@dataclass(frozen=True)
class Projection:
    """Where a live run will end, if it goes on as it has: from its plan (``planned_steps``
    or ``planned_epochs``, from ``run_started``) and its progress so far."""

    unit: str
    """``step`` or ``epoch``: what the plan counts."""
    done: int
    """Steps done (the highest step reported), or epochs done (the epoch in progress, counted
    from 0, is not done)."""
    planned: int
    eta_s: float
    """elapsed * (planned - done) / done, elapsed from the run's start to its last event."""
    ends_at: datetime
    """The last event's time plus ``eta_s``."""
    energy_j: float
    co2e_g: float
    """The run's totals so far * planned / done."""


def projection(run: Document, now: datetime, stale_after: timedelta) -> Projection | None:
    """The run's ETA and projected totals, or ``None`` where they would mean nothing: a run
    that is not live (finished, stale or lost), without a plan, with nothing done yet (a
    linear projection from zero progress is infinite), already at or past its plan, or with
    no elapsed time. Steps are preferred to epochs: they are finer."""
    if liveness.state(run, now, stale_after) != liveness.LIVE:
        return None
    started, last = run.get("started_at"), run.get("last_event_at")
    if started is None or last is None or last <= started:
        return None
    elapsed_s = (last - started).total_seconds()
    for unit, planned_field, done_field in (
        ("step", "planned_steps", "step"),
        ("epoch", "planned_epochs", "epoch"),
    ):
        planned, done = run.get(planned_field), run.get(done_field)
        if not isinstance(planned, int) or not isinstance(done, int):
            continue
        if 1 <= done < planned:
            share = planned / done
            eta_s = elapsed_s * (planned - done) / done
            return Projection(
                unit=unit,
                done=done,
                planned=planned,
                eta_s=eta_s,
                ends_at=last + timedelta(seconds=eta_s),
                energy_j=float(run.get("energy_j") or 0.0) * share,
                co2e_g=float(run.get("co2e_g") or 0.0) * share,
            )
    return None


def gpu_rows(run: Document) -> list[Document]:
    """The run's ``gpus`` (per device: index, energy, mean utilisation) in index order; an
    entry of another shape is left out (the document is the job's, but says so loudly)."""
    rows = [
        gpu
        for gpu in run.get("gpus") or []
        if isinstance(gpu, dict) and isinstance(gpu.get("gpu_index"), int)
    ]
    return sorted(rows, key=lambda gpu: int(gpu["gpu_index"]))


def gpu_figure(run: Document) -> go.Figure:
    """Energy per GPU in the unit the largest reaches, each bar labelled with the device's
    mean utilisation: one axis, since the share is text on its bar."""
    rows = gpu_rows(run)
    if not rows:
        return empty_figure("Per GPU: the run reported no per-GPU figures")
    energies = [float(gpu.get("energy_j") or 0.0) for gpu in rows]
    factor, unit = units.unit_for(max(energies), units.ENERGY_UNITS)
    shares = [gpu.get("mean_utilisation") for gpu in rows]
    figure = go.Figure()
    figure.add_bar(
        x=[f"GPU {gpu['gpu_index']}" for gpu in rows],
        y=[e / factor for e in energies],
        text=[f"{s:.0%} busy" if isinstance(s, int | float) else "busy: -" for s in shares],
        textposition="auto",
        name="energy",
        hovertemplate="%{x}: %{y:,.3g} " + unit + ", %{text}<extra></extra>",
    )
    figure.update_yaxes(rangemode="tozero")
    return _layout(figure, "Energy and mean utilisation per GPU", "device", f"energy ({unit})")
