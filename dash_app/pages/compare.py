"""Compare: two to five runs overlaid (cumulative CO2e, energy per sample, loss against energy).

Series come from ``epochs`` (one document per run per epoch) for the runs that have two or
more, and from ``windows`` only for the others (a run in its first epoch would be one dot): the
epochs are a small fraction of the windows (and FerretDB as published scans the whole
collection for a read by run). The choice of runs is written into the address (``?runs=a,b``)."""

from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html, no_update
from pymongo.database import Database

from joulestream.dash_app import checks, data, figures, params
from joulestream.dash_app.pages import common
from joulestream.dash_app.settings import DashSettings


def layout(route: params.Route) -> html.Div:
    chosen = route.query.get("runs", [])
    return html.Div(
        [
            html.H2("Compare runs"),
            dcc.Dropdown(
                id="compare-runs",
                options=[{"label": r, "value": r} for r in chosen],
                value=chosen,
                multi=True,
                placeholder="pick 2 to 5 runs",
            ),
            html.Div(id="compare-message"),
            html.P(
                "Runs with two epochs or more are drawn per epoch (a point at the end of each "
                "epoch); others per window. Runs are named user · model · id. "
                "Energy per sample is each run's total; a run that reported no samples has "
                "no bar.",
                id="compare-note",
                className="page-note",
            ),
            common.legend("compare-legend"),
            common.chart("compare-co2e", "Cumulative CO2e: reading the runs…"),
            html.Div(
                [
                    common.chart("compare-per-sample", "Energy per sample: reading the runs…"),
                    common.chart("compare-loss", "Loss against energy: reading the runs…"),
                ],
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr"},
            ),
        ]
    )


def view(
    db: Database[data.Document], chosen: object
) -> tuple[list[str], list[str], go.Figure, go.Figure, go.Figure]:
    """Messages, the run ids to offer, and the three figures."""
    ids, problem = params.compare_ids(chosen)  # first: a value of the wrong shape reads nothing
    offered = [run["run_id"] for run in data.list_runs(db)]
    messages = [problem] if problem else []
    runs = data.get_runs(db, ids)
    missing = [run_id for run_id in ids if run_id not in {r["run_id"] for r in runs}]
    if missing:
        messages.append(f"No run with id {', '.join(map(repr, missing))}.")
    if not offered:
        messages.append(common.EMPTY_FLEET)
    if problem and len(ids) < params.MIN_COMPARE:
        blank = figures.empty_figure("Pick runs above")
        return messages, offered, blank, blank, blank
    epochs = data.epochs_of_runs(db, [run["run_id"] for run in runs])
    # Windows only for the runs without epochs: none read at all when every run has epochs.
    without_epochs = [
        run_id for run_id, found in epochs.items() if len(found) < figures.MIN_COMPARE_EPOCHS
    ]
    windows = data.windows_of_runs(db, without_epochs)
    return messages, offered, *figures.compare_figures(runs, epochs, windows)


def register(app: Dash, db: Database[data.Document], settings: DashSettings) -> None:
    @app.callback(
        Output("compare-message", "children"),
        Output("compare-runs", "options"),
        *common.chart_outputs("compare-co2e"),
        *common.chart_outputs("compare-per-sample"),
        *common.chart_outputs("compare-loss"),
        Input("refresh", "n_intervals"),
        Input("compare-runs", "value"),
    )
    def refresh(_n: int | None, chosen: object) -> tuple[Any, ...]:
        try:
            messages, offered, *shown = view(db, chosen)
        except common.FAILURES as exc:
            blank = common.chart_values(figures.empty_figure("No data"))
            return common.message(common.failure(exc)), [], *blank, *blank, *blank
        # The chosen ones stay options, so that a choice survives a refresh (``view`` checked
        # that they are texts).
        listed = list(dict.fromkeys([*params.compare_ids(chosen)[0], *offered]))
        charts = [value for figure in shown for value in common.chart_values(figure)]
        return common.message(messages), listed, *charts

    # A person's choice goes into the address (``?runs=a,b``), one history entry each, so that a
    # comparison can be shared; the refresh never writes it.
    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Output("url-written", "data", allow_duplicate=True),
        Input("compare-runs", "value"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def write_address(chosen: object, current: str | None) -> tuple[Any, Any]:
        try:
            search = params.compare_search(chosen)
        except checks.InvalidInput:
            return no_update, no_update
        if search == (current or ""):
            return no_update, no_update
        return search, search
