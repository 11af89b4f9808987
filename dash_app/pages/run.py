"""Run detail: power, cumulative energy and CO2e, energy per epoch, loss against energy, per
sample and token, the intensity used, the measurement methods and a what-if in another region.

Two callbacks, so that the page never waits on ``windows`` for what other documents answer:
- ``refresh`` (the app's live refresh): the run's document (``_id``) and its epochs: meta, cards
  (power from ``runs.power_w``) and energy per epoch; fast on any server.
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
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from pymongo.database import Database

from joulestream.dash_app import checks, data, figures, intensity, params, units
from joulestream.dash_app.pages import common

# Windows close once a minute (by default), so re-reading them more often shows nothing new.
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
            html.Div(
                [
                    common.graph("run-power", figures.empty_figure(LOADING)),
                    common.graph("run-cumulative", figures.empty_figure(LOADING)),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr"},
            ),
            html.Div(
                [
                    common.graph("run-epochs"),
                    common.graph("run-progress", figures.empty_figure(LOADING)),
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
        ]
    )


@dataclass
class RunView:
    """What the run's document and its epochs show."""

    found: bool
    message: str
    meta: Any
    cards: Any
    epochs: go.Figure


@dataclass
class WindowsView:
    """What the run's windows show."""

    message: str
    power: go.Figure
    cumulative: go.Figure
    progress: go.Figure


def not_found_view(text: str) -> RunView:
    return RunView(False, text, [], [], figures.empty_figure(""))


def windows_view(db: Database[data.Document], run_id: str | None) -> WindowsView:
    """The charts of the run's closed windows (one indexed query). An
    unknown run reads no windows: the other callback says it is unknown."""
    if not run_id or data.get_run(db, run_id) is None:
        blank = figures.empty_figure("")
        return WindowsView("", blank, blank, blank)
    windows = data.run_windows(db, run_id)
    message = "" if windows else "No closed window yet: totals so far are shown above."
    return WindowsView(
        message,
        figures.power_figure(windows),
        figures.cumulative_figure(windows),
        figures.progress_figure(windows),
    )


def _shown(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def view(db: Database[data.Document], run_id: str | None) -> RunView:
    if not run_id:
        return not_found_view("No run id in the address: open a run from the Runs page.")
    run = data.get_run(db, run_id)
    if run is None:
        return not_found_view(f"No run with id {run_id!r}: open one from the Runs page.")
    epochs = data.run_epochs(db, run_id)
    energy_j, co2e_g = float(run.get("energy_j") or 0.0), float(run.get("co2e_g") or 0.0)
    power_w = run.get("power_w")
    power_now = units.power(float(power_w)) if power_w is not None else "-"
    meta = html.Div(
        [
            # Epoch 0 and step 0 are values; only a missing field is "-".
            html.Span(f"{key}: {_shown(run.get(field))}", style={"marginRight": "14px"})
            for key, field in (
                ("status", "status"),
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
        ]
    )
    source = str(run.get("intensity_source") or "unknown source")
    fallback = " (region not in the table: world average)" if run.get("intensity_fallback") else ""
    methods = "; ".join(
        f"{part}: {', '.join(map(units.method, names)) or 'not measured'}"
        for part in ("gpu", "cpu", "ram")
        for names in [run.get(f"{part}_methods") or []]
    )
    cards = common.cards(
        [
            common.card(
                "Energy", units.energy(energy_j), units.equivalents(energy_j, co2e_g), "run-energy"
            ),
            common.card("CO2e", units.co2e(co2e_g), f"PUE {run.get('pue') or 1.0:g}", "run-co2e"),
            common.card("Power", power_now, "mean of the latest measurement", "run-power-now"),
            common.card(
                "Per sample",
                units.per_unit(run.get("energy_j_per_sample"), "J"),
                units.per_unit(run.get("co2e_g_per_sample"), "g CO2e"),
                "run-per-sample",
            ),
            common.card(
                "Per token",
                units.per_unit(run.get("energy_j_per_token"), "J"),
                units.per_unit(run.get("co2e_g_per_token"), "g CO2e"),
            ),
            common.card(
                "Carbon intensity",
                units.intensity(float(run.get("intensity_g_per_kwh") or 0.0)),
                f"{source}{fallback}",
                "run-intensity",
            ),
            common.card("Measured by", methods, "", "run-methods"),
        ]
    )
    return RunView(True, "", meta, cards, figures.epochs_figure(epochs, run))


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


def register(app: Dash, db: Database[data.Document]) -> None:
    @app.callback(
        Output("run-message", "children"),
        Output("run-meta", "children"),
        Output("run-cards", "children"),
        Output("run-epochs", "figure"),
        Input("refresh", "n_intervals"),
        State("run-id", "data"),
    )
    def refresh(_n: int | None, run_id: str | None) -> tuple[Any, ...]:
        try:
            shown = view(db, run_id)
        except common.FAILURES as exc:
            shown = not_found_view(common.failure(exc))
        return common.message(shown.message), shown.meta, shown.cards, shown.epochs

    @app.callback(
        Output("run-windows-message", "children"),
        Output("run-power", "figure"),
        Output("run-cumulative", "figure"),
        Output("run-progress", "figure"),
        Input("run-windows-refresh", "n_intervals"),
        State("run-id", "data"),
        # No tick while the windows are being read: a tick would make Dash drop this answer.
        running=[(Output("run-windows-refresh", "disabled"), True, False)],
    )
    def refresh_windows(_n: int | None, run_id: str | None) -> tuple[Any, ...]:
        try:
            shown = windows_view(db, run_id)
        except common.FAILURES as exc:
            blank = figures.empty_figure("No data")
            return common.message(common.failure(exc)), blank, blank, blank
        return common.message(shown.message), shown.power, shown.cumulative, shown.progress

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
