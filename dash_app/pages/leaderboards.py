"""Leaderboards: users, models and regions by energy, CO2e and efficiency."""

from typing import Any

from dash import Dash, Input, Output, html
from pymongo.database import Database

from joulestream.dash_app import data, figures, params
from joulestream.dash_app.pages import common

BOARDS = (("user_id", "Users"), ("model", "Models"), ("region", "Regions"))
COLUMNS = [
    ("name", "Name"),
    ("runs", "Runs"),
    ("energy_kwh", "Energy (kWh)"),
    ("co2e_kg", "CO2e (kg)"),
    ("wh_per_1k_samples", "Wh per 1,000 samples"),
    ("g_per_kwh", "g CO2e per kWh"),
]


def layout(_route: params.Route) -> html.Div:
    return html.Div(
        [
            html.H2("Leaderboards"),
            html.P("The most CO2e first; click a column header to rank by it."),
            html.Div(id="leaders-message"),
            *(
                html.Div([html.H3(title), common.table(f"leaders-{field}", COLUMNS, page_size=10)])
                for field, title in BOARDS
            ),
        ]
    )


def view(db: Database[data.Document]) -> tuple[str, list[list[dict[str, Any]]]]:
    groups = data.leaderboard_groups(db)
    boards = [figures.leaderboard(groups, field) for field, _ in BOARDS]
    return ("" if groups else common.EMPTY_FLEET), boards


def register(app: Dash, db: Database[data.Document]) -> None:
    @app.callback(
        Output("leaders-message", "children"),
        *(Output(f"leaders-{field}", "data") for field, _ in BOARDS),
        Input("refresh", "n_intervals"),
    )
    def refresh(_n: int | None) -> tuple[Any, ...]:
        try:
            text, boards = view(db)
        except common.FAILURES as exc:
            return common.message(common.failure(exc)), *([] for _ in BOARDS)
        return common.message(text), *boards
