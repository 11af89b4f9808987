"""Run detail: power, cumulative energy and CO2e, energy per epoch, loss against energy, per
sample and token, the intensity used, the measurement methods, the ETA and projected totals of a
live run with a plan, energy and utilisation per GPU, and a what-if in another region.

Two callbacks, so that the page never waits on ``windows`` for what other documents answer:
- ``refresh`` (the app's live refresh): the run's document (``_id``) and its epochs: meta, cards
  (power from ``runs.power_w``, the ETA from ``planned_steps``/``planned_epochs``), energy per
  epoch and per GPU (``runs.gpus``); fast on any server.
- ``refresh_windows``: the run's windows, the one indexed query ``find({"run_id"}).sort(
  "window_start")``, for the power, cumulative and progress charts. On FerretDB 1.24 (SQLite) as
  published this is a scan of the whole ``windows`` collection (minutes on a million documents;
  the stack's FerretDB is patched to use the index, see the top README). Dash drops
  an answer whose callback was triggered again before it came back, so on a timer shorter than
  the query such a chart would never land: this callback has a timer of its own, which its
  ``running`` option disables while it runs. The next read starts ``RUN_WINDOWS_REFRESH_MS``
  after the previous answer, whatever that answer took.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from pymongo.database import Database

from joulestream.dash_app import (
    checks,
    data,
    exports,
    figures,
    greenest,
    intensity,
    liveness,
    marks,
    params,
    units,
)
from joulestream.dash_app.pages import common
from joulestream.dash_app.settings import DashSettings
from joulestream.schemas import limits

# A window is written at most every few seconds and its charts move once per window (a minute
# by default, the job's JOULESTREAM_RUN_WINDOW_S), so re-reading them more often shows little.
RUN_WINDOWS_REFRESH_MS = 15_000
LOADING = "Reading the run's windows…"


def layout(route: params.Route) -> html.Div:
    regions = intensity.table()
    return html.Div(
        [
            dcc.Store(id="run-id", data=route.run_id),
            dcc.Interval(id="run-windows-refresh", interval=RUN_WINDOWS_REFRESH_MS),
            html.H2(f"Run {route.run_id}", id="run-title"),
            html.Div(id="run-message"),
            html.Div(common.message(LOADING), id="run-windows-message"),
            html.Div(id="run-meta"),
            html.Div(id="run-cards"),
            # The peak comes from the windows, read by the other callback: a card of its own
            # outside the cards that the first callback rebuilds.
            html.Div(
                [
                    html.Span(peak_label([]), id="run-peak-label"),
                    html.B("-", id="run-peak-value"),
                ],
                id="run-peak-line",
                className="card-note",
            ),
            common.legend("run-legend"),
            html.Div(
                [
                    common.export_buttons("run-windows-export", "Windows"),
                    common.export_buttons("run-epochs-export", "Epochs"),
                ],
                style={"display": "flex", "gap": "24px", "margin": "6px 0"},
            ),
            html.Div(
                [
                    common.chart("run-power", LOADING),
                    common.chart("run-cumulative", LOADING),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr"},
            ),
            html.Div(
                [
                    common.chart("run-epochs", "Reading the run's epochs…"),
                    common.chart("run-progress", LOADING),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr"},
            ),
            html.Div(
                [
                    common.chart("run-gpus", "Reading the run's GPUs…"),
                    common.chart("run-intensity-chart", LOADING),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr"},
            ),
            html.H3("What if it had run elsewhere?"),
            dcc.Dropdown(
                id="run-whatif-region",
                options=[{"label": row.label, "value": key} for key, row in regions.items()],
                value="SE" if "SE" in regions else None,
                clearable=False,
                style={"maxWidth": "520px"},
            ),
            html.Div(id="run-whatif", style={"margin": "8px 0"}),
            html.H3("When would it have been greenest?"),
            greenest_controls(route.query),
            html.Div(id="run-greenest", style={"margin": "8px 0"}),
        ]
    )


def greenest_controls(query: dict[str, list[str]]) -> html.Div:
    """The what-if's range, from the address's ``greenest`` or ``greenest_from`` and
    ``greenest_to``: a preset around the run's start, or days."""
    options = [*params.GREENEST_RANGES, params.CUSTOM]
    key, problem = params.choice(query, "greenest", options, params.GREENEST_DEFAULT)
    since = next(iter(query.get("greenest_from") or []), None)
    until = next(iter(query.get("greenest_to") or []), None)
    return html.Div(
        [
            html.Label("Start within", htmlFor="run-greenest-range"),
            dcc.Dropdown(
                id="run-greenest-range",
                options=[{"label": params.GREENEST_LABELS[k], "value": k} for k in options],
                value=params.CUSTOM if since or until else key,
                clearable=False,
                searchable=False,
                # Wide enough for "24 hours either side of its start", not cut to "… its ...".
                style={
                    "width": common.fitting_width(params.GREENEST_LABELS[k] for k in options),
                    "maxWidth": "100%",
                },
            ),
            dcc.DatePickerRange(
                id="run-greenest-dates",
                start_date=since[:10] if since else None,
                end_date=until[:10] if until else None,
                display_format="YYYY-MM-DD",
                start_date_placeholder_text="from",
                end_date_placeholder_text="to",
                clearable=True,
                minimum_nights=0,
            ),
            common.message(problem),
        ],
        style=common.COMPACT_ROW,
    )


def peak_label(windows: list[data.Document]) -> str:
    """The peak power's label, naming the windows' length when they have one."""
    return f"Peak power (highest {figures.window_means(windows)}): "


@dataclass
class RunView:
    """What the run's document and its epochs show."""

    found: bool
    message: str
    meta: Any
    cards: Any
    epochs: go.Figure
    gpus: go.Figure


@dataclass
class WindowsView:
    """What the run's windows show."""

    message: str
    power: go.Figure
    cumulative: go.Figure
    progress: go.Figure
    intensity: go.Figure
    peak: str
    peak_label: str


def not_found_view(text: str) -> RunView:
    return RunView(False, text, [], [], figures.empty_figure(""), figures.empty_figure(""))


def windows_view(db: Database[data.Document], run_id: str | None) -> WindowsView:
    """The charts of the run's windows (one indexed query) and its peak power. An unknown run
    reads no windows: the other callback says it is unknown."""
    run = data.get_run(db, run_id) if run_id else None
    if run is None:
        blank = figures.empty_figure("")
        return WindowsView("", blank, blank, blank, blank, "", peak_label([]))
    windows = data.run_windows(db, str(run_id))
    message = "" if windows else "No window yet: totals so far are shown above."
    peak_w = figures.peak_power_w(windows)
    return WindowsView(
        message,
        figures.power_figure(windows),
        figures.cumulative_figure(windows, marks.of_run(run), run.get("started_at")),
        figures.progress_figure(windows),
        figures.intensity_figure(windows),
        units.power(peak_w) if peak_w is not None else "-",
        peak_label(windows),
    )


def _shown(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _methods(run: data.Document) -> str:
    return "; ".join(
        f"{part}: {', '.join(map(units.method, names)) or 'not measured'}"
        for part in ("gpu", "cpu", "ram")
        for names in [run.get(f"{part}_methods") or []]
    )


def view(
    db: Database[data.Document],
    run_id: str | None,
    now: datetime | None = None,
    settings: DashSettings | None = None,
) -> RunView:
    settings = settings or DashSettings()
    now = now or common.now()
    if not run_id:
        return not_found_view("No run id in the address: open a run from the Runs page.")
    run = data.get_run(db, run_id)
    if run is None:
        return not_found_view(f"No run with id {run_id!r}: open one from the Runs page.")
    epochs = data.run_epochs(db, run_id)
    record = figures.run_record(run, now, settings)
    flags = marks.of_run(run)
    energy_j, co2e_g = record["energy_j"], record["co2e_g"]
    started = record["started_at_utc"]
    stale_after = timedelta(seconds=settings.stale_after_s)
    plan = _plan(run)
    meta = html.Div(
        [
            # Epoch 0 and step 0 are values; only a missing field is "-".
            html.Span(f"{key}: {value}", style={"marginRight": "14px"})
            for key, value in (
                ("status", liveness.status_text(run, now, stale_after)),
                ("started", f"{started:%Y-%m-%d %H:%M:%S} UTC" if started else "-"),
                ("duration", units.duration(record["duration_s"] or 0.0)),
                *(
                    (key, _shown(run.get(field)))
                    for key, field in (
                        ("user", "user_id"),
                        ("project", "project"),
                        ("model", "model"),
                        ("dataset", "dataset"),
                        ("framework", "framework"),
                        ("region", "region"),
                        ("epoch", "epoch"),
                        ("step", "step"),
                        ("events", "events"),
                    )
                ),
                *([("plan", plan)] if plan else []),
            )
        ]
    )
    source = str(run.get("intensity_source") or "unknown source")
    fallback = f" {marks.FALLBACK} region not in the table: world average" if flags.fallback else ""
    grid_j = float(run.get("grid_priced_energy_j") or 0.0)
    grid = (
        f"; {grid_j / energy_j:.0%} of the energy by the hourly grid series "
        f"({', '.join(str(s) for s in run.get('grid_sources') or [])})"
        if grid_j > 0 and energy_j > 0
        else ""
    )
    latest_w = run.get("power_w")
    mean_w = record["mean_power_w"]
    cost = units.money(record[figures.cost_column(settings)], settings.currency)
    price = f"{settings.price_of(run.get('region')):g} {settings.currency}/kWh"
    cards = common.cards(
        [
            common.card(
                "Energy",
                units.energy(energy_j),
                units.equivalents(energy_j, co2e_g) or "too little for an everyday equivalent",
                "run-energy",
            ),
            common.card(
                "CO2e",
                marks.marked(units.co2e(co2e_g), flags),
                f"PUE {run.get('pue') or 1.0:g}",
                "run-co2e",
            ),
            common.card("Cost", cost, f"at {price}", "run-cost"),
            common.card(
                "Average power",
                units.power(mean_w) if mean_w is not None else "-",
                "latest " + (units.power(float(latest_w)) if latest_w is not None else "-"),
                "run-power-now",
            ),
            common.card(
                "Per sample",
                units.per_unit(run.get("energy_j_per_sample"), "energy"),
                marks.marked(units.per_unit(run.get("co2e_g_per_sample"), "co2e"), flags)
                if run.get("co2e_g_per_sample") is not None
                else "-",
                "run-per-sample",
            ),
            common.card(
                "Per token",
                units.per_unit(run.get("energy_j_per_token"), "energy"),
                marks.marked(units.per_unit(run.get("co2e_g_per_token"), "co2e"), flags)
                if run.get("co2e_g_per_token") is not None
                else "-",
            ),
            common.card(
                "Carbon intensity",
                units.intensity(float(run.get("intensity_g_per_kwh") or 0.0)),
                f"{source}{fallback}{grid}",
                "run-intensity",
            ),
            common.card(
                "Measured by",
                marks.marked(_methods(run), marks.Flags(estimate=flags.estimate)),
                "",
                "run-methods",
            ),
            *_projection_cards(run, now, stale_after, flags, settings),
        ]
    )
    return RunView(
        True, "", meta, cards, figures.epochs_figure(epochs, run, flags), figures.gpu_figure(run)
    )


def _plan(run: data.Document) -> str:
    """``1,000 steps, 10 epochs``: what the run said it will take; "" when it did not."""
    parts = [
        units.count(int(value), noun)
        for field, noun in (("planned_steps", "step"), ("planned_epochs", "epoch"))
        if isinstance(value := run.get(field), int)
    ]
    return ", ".join(parts)


def _projection_cards(
    run: data.Document,
    now: datetime,
    stale_after: timedelta,
    flags: marks.Flags,
    settings: DashSettings,
) -> list[Any]:
    """The ETA and the projected totals of a live run with a plan and some progress; none
    where they would mean nothing (``figures.projection``)."""
    shown = figures.projection(run, now, stale_after)
    if shown is None:
        return []
    progress = f"{shown.unit} {shown.done:,} of {shown.planned:,}"
    cost = units.money(settings.cost(shown.energy_j, run.get("region")), settings.currency)
    return [
        common.card(
            "ETA",
            units.duration(shown.eta_s),
            f"ends ≈ {shown.ends_at:%Y-%m-%d %H:%M} UTC · {progress}",
            "run-eta",
        ),
        common.card(
            "Projected at the end",
            f"{units.energy(shown.energy_j)} · {marks.marked(units.co2e(shown.co2e_g), flags)}",
            f"{cost} · at the pace so far ({shown.done / shown.planned:.0%} done)",
            "run-projected",
        ),
    ]


WINDOW_EXPORT_COLUMNS = [
    "run_id", "window_start_utc", "window_end_utc", "epoch", "samples", "tokens", "loss",
    "accuracy", "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "energy_j", "mean_power_w",
    "co2e_g", "pue", "intensity_g_per_kwh", "intensity_source", "intensity_fallback",
    "energy_estimated",
]  # fmt: skip
EPOCH_EXPORT_COLUMNS = [
    "run_id", "epoch", "started_at_utc", "ended_at_utc", "duration_s", "events", "samples",
    "tokens", "loss", "accuracy", "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "energy_j",
    "co2e_g", "intensity_fallback", "energy_estimated",
]  # fmt: skip


def window_records(windows: list[data.Document], run: data.Document) -> list[data.Document]:
    """The run's windows as exported: stored values, times and mean power named with units."""
    flags = marks.of_run(run)
    return [
        {
            **w,
            "window_start_utc": w["window_start"],
            "window_end_utc": w["window_end"],
            "mean_power_w": figures.power_w(w),
            "intensity_fallback": bool(w.get("intensity_fallback")),
            "energy_estimated": flags.estimate,
        }
        for w in windows
    ]


def epoch_records(epochs: list[data.Document], run: data.Document) -> list[data.Document]:
    """The run's epochs as exported: as stored (the job prices them like the run), with the
    run's estimate flag."""
    flags = marks.of_run(run)
    return [
        {
            **e,
            "started_at_utc": e.get("started_at"),
            "ended_at_utc": e.get("ended_at"),
            "duration_s": (e["ended_at"] - e["started_at"]).total_seconds()
            if e.get("started_at") and e.get("ended_at")
            else None,
            "energy_estimated": flags.estimate,
        }
        for e in epochs
    ]


def export(
    db: Database[data.Document], run_id: str | None, what: str, fmt: str, now: datetime
) -> dict[str, Any] | None:
    """The run's ``windows`` or ``epochs`` as a download; ``None`` for an unknown run."""
    run = data.get_run(db, run_id) if run_id else None
    if run is None:
        return None
    if what == "windows":
        rows = window_records(data.run_windows(db, str(run_id)), run)
        columns = WINDOW_EXPORT_COLUMNS
    else:
        rows = epoch_records(data.run_epochs(db, str(run_id)), run)
        columns = EPOCH_EXPORT_COLUMNS
    return exports.download(rows, columns, f"run-{run_id}-{what}", now, fmt)


def what_if(db: Database[data.Document], run_id: str | None, region: object) -> str:
    """The run's energy * PUE priced with another region's intensity from the table."""
    region = checks.optional_text(region, "region")
    if not run_id or not region:
        return ""
    run = data.get_run(db, run_id)
    row = intensity.table().get(region)
    if run is None:
        return ""
    if row is None:
        return f"Region {region!r} is not in the intensity table."
    actual_g = float(run.get("co2e_g") or 0.0)
    other_g = figures.what_if_co2e_g(run, row.intensity_g_per_kwh)
    change = f" ({(other_g - actual_g) / actual_g:+.0%})" if actual_g else ""
    return (
        f"In {region} ({units.intensity(row.intensity_g_per_kwh)}, {row.source} {row.year}) the "
        f"same {units.energy(float(run.get('energy_j') or 0.0))} would have emitted "
        f"{units.co2e(other_g)} instead of {units.co2e(actual_g)}{change}."
    )


def _ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def _shift(shift_ms: int) -> str:
    if shift_ms == 0:
        return "its own start"
    return units.duration(abs(shift_ms) / 1000) + (" later" if shift_ms > 0 else " earlier")


def greenest_what_if(
    db: Database[data.Document],
    run_id: str | None,
    range_key: object,
    since: object,
    until: object,
    settings: DashSettings | None = None,
) -> str:
    """The start within the range at which the run's windows, shifted as a block by whole grid
    periods, would have emitted least with its region's stored series (``greenest``), and the
    saving against its actual CO2e; what got in the way otherwise. Two queries: the run's
    windows and its region's periods."""
    settings = settings or DashSettings()
    run = data.get_run(db, run_id) if run_id else None
    if run is None:
        return ""
    started = run.get("started_at")
    windows = data.run_windows(db, str(run_id))
    if started is None or not windows:
        return "No window yet: nothing to shift."
    first, last, messages = params.greenest_range(range_key, since, until, started)
    region = str(run.get("region") or "")
    offsets = (windows[0]["window_start"] - started, windows[-1]["window_start"] - started)
    # The periods that may price a shifted window: those starting at most a longest period
    # before the earliest shifted window, up to the latest one.
    longest = timedelta(milliseconds=limits.MAX_GRID_PERIOD_MS)
    rows = data.grid_series(
        db,
        region,
        settings.grid_kind,
        first + offsets[0] - longest,
        last + offsets[1] + timedelta(milliseconds=1),
    )
    prefix = " ".join(messages) + " " if messages else ""
    between = f"{first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC"
    if not rows:
        return (
            f"{prefix}Region {region!r} has no stored {settings.grid_kind} grid series for "
            f"starts between {between}: the what-if needs its figures from the grid.intensity "
            "topic."
        )
    periods = [
        greenest.Period(
            _ms(r["period_start"]), _ms(r["period_end"]), float(r["intensity_g_per_kwh"]),
            _ms(r["published_at"]),
        )
        for r in rows
    ]  # fmt: skip
    energy_j = [(_ms(w["window_start"]), float(w.get("energy_j") or 0.0)) for w in windows]
    other_j = max(float(run.get("energy_j") or 0.0) - sum(j for _, j in energy_j), 0.0)
    own = float(run.get("intensity_g_per_kwh") or 0.0)
    pue = float(run.get("pue") or 1.0)
    found = greenest.greenest(
        energy_j, periods, _ms(started), (_ms(first), _ms(last)), pue, own, other_j
    )
    if found is None:
        return (
            f"{prefix}No stored figure of {region} falls where the run would have been for any "
            f"start between {between}."
        )
    best, actual_g = found.best, float(run.get("co2e_g") or 0.0)
    saving_g = actual_g - best.co2e_g
    share = f" ({abs(saving_g) / actual_g:.0%})" if actual_g else ""
    at = started + timedelta(milliseconds=best.shift_ms)
    verdict = (
        f"{units.co2e(saving_g)} less{share}"
        if saving_g >= 0
        else f"{units.co2e(-saving_g)} more{share}: no start in the range beats the actual"
    )
    notes = [
        f"Greenest start between {between}: {at:%Y-%m-%d %H:%M} UTC ({_shift(best.shift_ms)}), "
        f"{units.co2e(best.co2e_g)} instead of {units.co2e(actual_g)}, {verdict}.",
        f"{units.count(found.candidates, 'start')} in whole steps of "
        f"{units.duration(found.step_ms / 1000)}, priced with {region}'s stored "
        f"{settings.grid_kind} series and PUE {pue:g}.",
    ]
    if best.unpriced_energy_j > 0:
        notes.append(
            f"{units.energy(best.unpriced_energy_j)} of it falls in periods with no figure, "
            f"priced with the run's own {units.intensity(own)}."
        )
    if other_j > 0:
        notes.append(
            f"{units.energy(other_j)} in no window (late events) is priced with the run's own "
            f"{units.intensity(own)} at every start."
        )
    return prefix + " ".join(notes)


def register(app: Dash, db: Database[data.Document], settings: DashSettings) -> None:
    @app.callback(
        Output("run-message", "children"),
        Output("run-meta", "children"),
        Output("run-cards", "children"),
        *common.chart_outputs("run-epochs"),
        *common.chart_outputs("run-gpus"),
        Input("refresh", "n_intervals"),
        State("run-id", "data"),
    )
    def refresh(_n: int | None, run_id: str | None) -> tuple[Any, ...]:
        try:
            shown = view(db, run_id, common.now(), settings)
        except common.FAILURES as exc:
            shown = not_found_view(common.failure(exc))
        return (
            common.message(shown.message),
            shown.meta,
            shown.cards,
            *common.chart_values(shown.epochs),
            *common.chart_values(shown.gpus),
        )

    @app.callback(
        Output("run-windows-message", "children"),
        *common.chart_outputs("run-power"),
        *common.chart_outputs("run-cumulative"),
        *common.chart_outputs("run-progress"),
        *common.chart_outputs("run-intensity-chart"),
        Output("run-peak-value", "children"),
        Output("run-peak-label", "children"),
        Input("run-windows-refresh", "n_intervals"),
        State("run-id", "data"),
        # No tick while the windows are being read: a tick would make Dash drop this answer.
        running=[(Output("run-windows-refresh", "disabled"), True, False)],
    )
    def refresh_windows(_n: int | None, run_id: str | None) -> tuple[Any, ...]:
        try:
            shown = windows_view(db, run_id)
        except common.FAILURES as exc:
            blank = common.chart_values(figures.empty_figure("No data"))
            return (
                common.message(common.failure(exc)),
                *blank,
                *blank,
                *blank,
                *blank,
                "-",
                peak_label([]),
            )
        return (
            common.message(shown.message),
            *common.chart_values(shown.power),
            *common.chart_values(shown.cumulative),
            *common.chart_values(shown.progress),
            *common.chart_values(shown.intensity),
            shown.peak,
            shown.peak_label,
        )

    for what in ("windows", "epochs"):

        def build(fmt: str, run_id: str | None, what: str = what) -> dict[str, Any] | None:
            return export(db, run_id, what, fmt, common.now())

        common.register_export(
            app, f"run-{what}-export", [State("run-id", "data")], build, "No such run."
        )

    @app.callback(
        Output("run-whatif", "children"),
        Input("run-whatif-region", "value"),
        Input("refresh", "n_intervals"),
        State("run-id", "data"),
    )
    def price_elsewhere(region: str | None, _n: int | None, run_id: str | None) -> str:
        try:
            return what_if(db, run_id, region)
        except common.FAILURES as exc:
            return common.failure(exc)

    # On a change of the range only: the what-if reads the run's windows, like the charts.
    @app.callback(
        Output("run-greenest", "children"),
        Input("run-greenest-range", "value"),
        Input("run-greenest-dates", "start_date"),
        Input("run-greenest-dates", "end_date"),
        State("run-id", "data"),
    )
    def greenest_start(range_key: object, since: object, until: object, run_id: str | None) -> str:
        try:
            return greenest_what_if(db, run_id, range_key, since, until, settings)
        except common.FAILURES as exc:
            return common.failure(exc)

    @app.callback(
        Output("run-greenest-range", "value"),
        Output("run-greenest-dates", "start_date"),
        Output("run-greenest-dates", "end_date"),
        Input("run-greenest-range", "value"),
        Input("run-greenest-dates", "start_date"),
        Input("run-greenest-dates", "end_date"),
        prevent_initial_call=True,
    )
    def sync_greenest(
        range_key: object, since: object, until: object
    ) -> tuple[object, object, object]:
        # A preset clears the dates; a date picked makes the range custom.
        if ctx.triggered_id == "run-greenest-range" and range_key != params.CUSTOM:
            return range_key, None, None
        if since or until:
            return params.CUSTOM, since, until
        return no_update, no_update, no_update

    # Only a person's change writes the address, one history entry each.
    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Output("url-written", "data", allow_duplicate=True),
        Input("run-greenest-range", "value"),
        Input("run-greenest-dates", "start_date"),
        Input("run-greenest-dates", "end_date"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def write_address(
        range_key: object, since: object, until: object, current: object
    ) -> tuple[Any, Any]:
        try:
            search = params.greenest_search(range_key, since, until)
        except checks.InvalidInput:
            return no_update, no_update
        if search == (current or ""):
            return no_update, no_update
        return search, search
