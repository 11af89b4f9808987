"""Leaderboards: users, models and regions by energy, CO2e, cost and efficiency; each board
sorts on the server (by the raw numbers) and exports as CSV or JSON."""

from datetime import datetime, timedelta
from typing import Any

from dash import Dash, Input, Output, State, ctx, html, no_update
from pymongo.database import Database

from joulestream.dash_app import checks, data, exports, figures, params
from joulestream.dash_app.pages import common
from joulestream.dash_app.settings import DashSettings

# Rollups are read up to this far past the dashboard's clock: a trainer's clock may run ahead.
CLOCK_AHEAD = timedelta(days=1)
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


def layout(route: params.Route) -> html.Div:
    ranges, messages = common.range_controls("leaders", route.query, params.ALL_TIME)
    return html.Div(
        [
            html.H2("Leaderboards"),
            html.P("The most CO2e first; click a column header to rank by it."),
            common.message(messages),
            ranges,
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


def parts(
    db: Database[data.Document],
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> tuple[list[data.Document], list[data.Document]]:
    """(parts, flagged runs) for the boards: every run's totals for all time (``since``
    ``None``), else the range's rollups and the runs active in it (``figures.range_parts``)."""
    flagged = data.flagged_runs(db)
    if since is None and until is None:
        return data.leaderboard_groups(db), flagged
    end = until or now + CLOCK_AHEAD
    rollups = [
        r for r in data.rollups_since(db, since, end) if since is None or r["period_start"] >= since
    ]
    active = data.list_runs(db, data.RunFilter({}, since, until))
    inside = [
        r for r in flagged
        if (since is None or (r.get("last_event_at") or since) >= since)
        and (until is None or (r.get("started_at") or until) < until)
    ]  # fmt: skip
    return figures.range_parts(rollups, active), inside


def view(
    db: Database[data.Document],
    settings: DashSettings | None = None,
    sorts: tuple[object, ...] = (),
    range_key: object = params.ALL_TIME,
    dates: tuple[object, object] = (None, None),
    now: datetime | None = None,
) -> tuple[str, list[list[dict[str, Any]]]]:
    """A message and the three boards over the range, each in the order of its sort."""
    settings = settings or DashSettings()
    now = now or common.now()
    since, until, messages = params.time_range(range_key, *dates, now)
    groups, flagged = parts(db, since, until, now)
    boards = []
    for index, (field, _) in enumerate(BOARDS):
        rows = figures.leaderboard(groups, field, flagged, settings)
        sort_by = sorts[index] if index < len(sorts) else None
        boards.append(
            figures.sorted_rows(rows, sort_by, COLUMN_KEYS, figures.LEADERBOARD_SORT_KEYS)
        )
    if not groups:
        messages.append(
            common.EMPTY_FLEET
            if since is None and until is None
            else "No energy measured in this range."
        )
    return " ".join(messages), boards


def export(
    db: Database[data.Document],
    field: str,
    sort_by: object,
    fmt: str,
    now: datetime,
    settings: DashSettings | None = None,
    range_key: object = params.ALL_TIME,
    dates: tuple[object, object] = (None, None),
) -> dict[str, Any]:
    """One board over the range as a download, in the table's order."""
    settings = settings or DashSettings()
    index = [f for f, _ in BOARDS].index(field)
    sorts = tuple(sort_by if i == index else None for i in range(len(BOARDS)))
    _, boards = view(db, settings, sorts, range_key, dates, now)
    rows = [{field: row["name"], **row} for row in boards[index]]
    what = f"leaderboard-{field.removesuffix('_id')}s"
    return exports.download(rows, export_columns(field, settings), what, now, fmt)


def register(app: Dash, db: Database[data.Document], settings: DashSettings) -> None:
    @app.callback(
        Output("leaders-message", "children"),
        *(Output(f"leaders-{field}", "data") for field, _ in BOARDS),
        Input("refresh", "n_intervals"),
        Input("leaders-range", "value"),
        Input("leaders-dates", "start_date"),
        Input("leaders-dates", "end_date"),
        *(Input(f"leaders-{field}", "sort_by") for field, _ in BOARDS),
    )
    def refresh(
        _n: int | None, range_key: object, since: object, until: object, *sorts: object
    ) -> tuple[Any, ...]:
        try:
            text, boards = view(db, settings, sorts, range_key, (since, until), common.now())
        except common.FAILURES as exc:
            return common.message(common.failure(exc)), *([] for _ in BOARDS)
        return common.message(text), *boards

    for field, _ in BOARDS:

        def build(
            fmt: str,
            sort_by: object,
            range_key: object,
            since: object,
            until: object,
            field: str = field,
        ) -> dict[str, Any]:
            dates = (since, until)
            return export(db, field, sort_by, fmt, common.now(), settings, range_key, dates)

        states = [
            State(f"leaders-{field}", "sort_by"),
            State("leaders-range", "value"),
            State("leaders-dates", "start_date"),
            State("leaders-dates", "end_date"),
        ]
        common.register_export(app, f"leaders-{field}-export", states, build)

    @app.callback(
        Output("leaders-range", "value"),
        Output("leaders-dates", "start_date"),
        Output("leaders-dates", "end_date"),
        Input("leaders-range", "value"),
        Input("leaders-dates", "start_date"),
        Input("leaders-dates", "end_date"),
        prevent_initial_call=True,
    )
    def sync(range_key: object, since: object, until: object) -> tuple[object, object, object]:
        return common.sync_range(ctx.triggered_id, range_key, since, until)

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Output("url-written", "data", allow_duplicate=True),
        Input("leaders-range", "value"),
        Input("leaders-dates", "start_date"),
        Input("leaders-dates", "end_date"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def write_address(
        range_key: object, since: object, until: object, current: object
    ) -> tuple[Any, Any]:
        try:
            search = params.range_search([], range_key, since, until)
        except checks.InvalidInput:
            return no_update, no_update
        if search == (current or ""):
            return no_update, no_update
        return search, search
