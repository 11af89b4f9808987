"""The dashboard: a live table of runs and one run's energy over time. Reads MongoDB only."""

import os
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash.dash_table.DataTable import DataTable
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from dash_app import data, figures

REFRESH_MS = 5_000
COLUMNS = [
    ("run_id", "Run"),
    ("user_id", "User"),
    ("project", "Project"),
    ("model", "Model"),
    ("region", "Region"),
    ("status", "Status"),
    ("events", "Events"),
    ("energy_kwh", "Energy (kWh)"),
    ("last_event_at", "Last event (UTC)"),
]


def layout() -> html.Div:
    return html.Div(
        [
            html.H2("joulestream: energy of training runs"),
            html.Div(id="runs-banner", style={"color": "#b00020"}),
            dcc.Interval(id="runs-refresh", interval=REFRESH_MS),
            DataTable(
                id="runs-table",
                columns=[{"id": key, "name": name} for key, name in COLUMNS],
                row_selectable="single",
                sort_action="native",
                page_size=15,
                style_cell={"fontFamily": "sans-serif", "padding": "4px"},
            ),
            dcc.Graph(id="runs-energy"),
        ],
        style={"maxWidth": "1100px", "margin": "auto"},
    )


def create_app(db: Database[data.Document]) -> Dash:
    app = Dash(__name__, title="joulestream")
    app.layout = layout

    @app.callback(
        Output("runs-table", "data"),
        Output("runs-banner", "children"),
        Input("runs-refresh", "n_intervals"),
    )
    def refresh_runs(_n: int | None) -> tuple[list[dict[str, Any]], str]:
        try:
            runs = data.list_runs(db)
        except PyMongoError as exc:
            return [], f"MongoDB is not reachable ({type(exc).__name__}); retrying."
        if not runs:
            return [], "No runs yet: start a trainer or `make demo`."
        return figures.run_rows(runs), ""

    @app.callback(
        Output("runs-energy", "figure"),
        Input("runs-table", "derived_virtual_data"),
        Input("runs-table", "selected_row_ids"),
        Input("runs-refresh", "n_intervals"),
    )
    def show_run(
        rows: list[dict[str, Any]] | None, selected: list[str] | None, _n: int | None
    ) -> go.Figure:
        run_id = selected_run(rows, selected)
        try:
            windows = data.run_windows(db, run_id) if run_id else []
        except PyMongoError:
            windows = []
        return figures.energy_over_time(run_id, windows)

    return app


def selected_run(rows: list[dict[str, Any]] | None, selected: list[str] | None) -> str | None:
    """The selected run (rows are identified by run id, so a refresh that reorders the table
    keeps it); with nothing selected, the listed run with the most events, which is likely to
    have closed windows to show."""
    if selected:
        return selected[0]
    if not rows:
        return None
    run_id = max(rows, key=lambda row: row.get("events") or 0).get("run_id")
    return str(run_id) if run_id is not None else None


def main() -> None:
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    database = os.environ.get("MONGODB_DATABASE", "joulestream")
    client: MongoClient[data.Document] = MongoClient(uri, serverSelectionTimeoutMS=2000)
    app = create_app(client[database])
    # Loopback by default; a container sets DASH_HOST=0.0.0.0 to be reachable through a Service.
    host = os.environ.get("DASH_HOST", "127.0.0.1")
    app.run(host=host, port=int(os.environ.get("DASH_PORT", "8050")), debug=False)
