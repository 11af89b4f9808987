"""Leaderboards: users, models and regions by energy, CO2e, cost and efficiency; each board
sorts on the server (by the raw numbers) and exports as CSV or JSON."""

from datetime import datetime
from typing import Any

from dash import Dash, Input, Output, State, ctx, html, no_update
from pymongo.database import Database

from dash_app import data, exports, figures, params
from dash_app.pages import common
from dash_app.settings import DashSettings

BOARDS = (("user_id", "Users"), ("model", "Models"), ("region", "Regions"))
COLUMNS = [
    ("name", "Name"),
    ("runs", "Runs"),
    ("energy", "Energy"),
    ("co2e", "CO2e"),
    ("cost", "Cost"),
    ("wh_per_1k", "Wh per 1,000 samples"),
    ("g_per_kwh", "g CO2e per kWh"),
]
COLUMN_KEYS = [key for key, _ in COLUMNS]


def export_columns(field: str, settings: DashSettings) -> list[str]:
    """A board's export: the group's name under its field (``user_id``, ``model``,
    ``region``), then the raw sums, unit in each name, and the marks as flags."""
    return [
        field, "runs", "energy_j", "co2e_g", figures.cost_column(settings),
        "energy_wh_per_1k_samples", "intensity_g_per_kwh", "intensity_fallback",
        "energy_estimated",
    ]  # fmt: skip


def layout(_route: params.Route) -> html.Div:
    return html.Div(
        [
            html.H2("Leaderboards"),
            html.P("The most CO2e first; click a column header to rank by it."),
            html.Div(id="leaders-message"),
            common.legend("leaders-legend"),
            *(
                html.Div(
                    [
                        html.Div(
                            [html.H3(title), common.export_buttons(f"leaders-{field}-export")],
                            style={"display": "flex", "gap": "16px", "alignItems": "center"},
                        ),
                        common.table(f"leaders-{field}", COLUMNS, page_size=10),
                    ]
                )
                for field, title in BOARDS
            ),
        ]
    )


def board(
    db: Database[data.Document], field: str, settings: DashSettings, sort_by: object = None
) -> list[dict[str, Any]]:
    """One board's rows in the order of ``sort_by`` (the most CO2e first without one)."""
    rows = figures.leaderboard(data.leaderboard_groups(db), field, data.flagged_runs(db), settings)
    return figures.sorted_rows(rows, sort_by, COLUMN_KEYS, figures.LEADERBOARD_SORT_KEYS)


def view(
    db: Database[data.Document],
    settings: DashSettings | None = None,
    sorts: tuple[object, ...] = (),
) -> tuple[str, list[list[dict[str, Any]]]]:
    settings = settings or DashSettings()
    groups = data.leaderboard_groups(db)
    flagged = data.flagged_runs(db)
    boards = []
    for index, (field, _) in enumerate(BOARDS):
        rows = figures.leaderboard(groups, field, flagged, settings)
        sort_by = sorts[index] if index < len(sorts) else None
        boards.append(
            figures.sorted_rows(rows, sort_by, COLUMN_KEYS, figures.LEADERBOARD_SORT_KEYS)
        )
    return ("" if groups else common.EMPTY_FLEET), boards


def export(
    db: Database[data.Document],
    field: str,
    sort_by: object,
    fmt: str,
    now: datetime,
    settings: DashSettings | None = None,
) -> dict[str, Any]:
    """One board as a download, in the table's order."""
    settings = settings or DashSettings()
    rows = [{field: row["name"], **row} for row in board(db, field, settings, sort_by)]
    what = f"leaderboard-{field.removesuffix('_id')}s"
    return exports.download(rows, export_columns(field, settings), what, now, fmt)


def register(app: Dash, db: Database[data.Document], settings: DashSettings) -> None:
    @app.callback(
        Output("leaders-message", "children"),
        *(Output(f"leaders-{field}", "data") for field, _ in BOARDS),
        Input("refresh", "n_intervals"),
        *(Input(f"leaders-{field}", "sort_by") for field, _ in BOARDS),
    )
    def refresh(_n: int | None, *sorts: object) -> tuple[Any, ...]:
        try:
            text, boards = view(db, settings, sorts)
        except common.FAILURES as exc:
            return common.message(common.failure(exc)), *([] for _ in BOARDS)
        return common.message(text), *boards

    for field, _ in BOARDS:
        prefix = f"leaders-{field}-export"

        @app.callback(
            Output(f"{prefix}-download", "data"),
            Output(f"{prefix}-message", "children"),
            Input(f"{prefix}-csv", "n_clicks"),
            Input(f"{prefix}-json", "n_clicks"),
            State(f"leaders-{field}", "sort_by"),
            prevent_initial_call=True,
        )
        def download(
            _csv: int | None, _json: int | None, sort_by: object, field: str = field
        ) -> tuple[Any, Any]:
            fmt = common.export_format(ctx.triggered_id)
            try:
                return export(db, field, sort_by, fmt, common.now(), settings), ""
            except common.FAILURES as exc:
                return no_update, common.failure(exc)
