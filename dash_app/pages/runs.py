"""Runs: every run in a table with filters, sorting and CSV export; a run id opens its page.

The filters are written back into the address (``?user=…&from=…``) when a person changes them,
so that a reload or a shared link shows the same runs; the live refresh re-reads the table only
and never touches the address or the filters."""

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from pymongo.database import Database
from pymongo.errors import PyMongoError

from dash_app import data, figures, params
from dash_app.pages import common

COLUMNS = [
    ("run", "Run"),
    ("user_id", "User"),
    ("project", "Project"),
    ("model", "Model"),
    ("dataset", "Dataset"),
    ("framework", "Framework"),
    ("region", "Region"),
    ("status", "Status"),
    ("events", "Events"),
    ("energy_kwh", "Energy (kWh)"),
    ("co2e_kg", "CO2e (kg)"),
    ("started_at", "Started (UTC)"),
    ("last_event_at", "Last event (UTC)"),
]


def layout(route: params.Route) -> html.Div:
    values, messages = params.url_filter_values(route.query)
    since = (route.query.get("from") or [""])[0]
    until = (route.query.get("to") or [""])[0]
    filters: list[Any] = [
        dcc.Dropdown(
            id=f"runs-filter-{key}",
            options=[{"label": v, "value": v} for v in values.get(key, [])],
            value=values.get(key, []),
            multi=True,
            placeholder=key,
            style={"minWidth": "150px"},
        )
        for key in data.FILTER_FIELDS
    ]
    filters += [
        dcc.Input(id="runs-from", value=since, placeholder="from YYYY-MM-DD", debounce=True),
        dcc.Input(id="runs-to", value=until, placeholder="to YYYY-MM-DD", debounce=True),
    ]
    return html.Div(
        [
            html.H2("Runs"),
            common.message(messages),
            html.Div(filters, style={"display": "flex", "flexWrap": "wrap", "gap": "6px"}),
            html.Div(id="runs-message"),
            html.Div(id="runs-count", style={"margin": "6px 0"}),
            common.table(
                "runs-table",
                COLUMNS,
                page_size=25,
                export_format="csv",
                export_headers="display",
                row_selectable=False,
            ),
        ]
    )


def view(
    db: Database[data.Document], values: dict[str, list[str]], since: str | None, until: str | None
) -> tuple[list[dict[str, Any]], dict[str, list[str]], list[str]]:
    """Table rows, the options of each filter (keyed like ``FILTER_FIELDS``) and messages."""
    run_filter, messages = params.runs_filter(values, since, until)
    rows = figures.run_rows(data.list_runs(db, run_filter))
    by_field = data.filter_options(db)
    options = {key: by_field[field] for key, field in data.FILTER_FIELDS.items()}
    if not rows:
        any_run = any(options.values())
        messages.append("No run matches these filters." if any_run else common.EMPTY_FLEET)
    return rows, options, messages


def register(app: Dash, db: Database[data.Document]) -> None:
    keys = list(data.FILTER_FIELDS)

    @app.callback(
        Output("runs-table", "data"),
        Output("runs-message", "children"),
        Output("runs-count", "children"),
        *(Output(f"runs-filter-{key}", "options") for key in keys),
        Input("refresh", "n_intervals"),
        Input("runs-from", "value"),
        Input("runs-to", "value"),
        *(Input(f"runs-filter-{key}", "value") for key in keys),
    )
    def refresh(
        _n: int | None, since: str | None, until: str | None, *chosen: list[str] | None
    ) -> tuple[Any, ...]:
        values = {key: list(value or []) for key, value in zip(keys, chosen, strict=True)}
        try:
            rows, options, messages = view(db, values, since, until)
        except PyMongoError as exc:
            return ([], common.message(common.db_error(exc)), "", *([] for _ in keys))
        # A chosen value stays an option even when no run has it any more.
        listed = [sorted({*options[key], *values[key]}) for key in keys]
        return (
            rows,
            common.message(messages),
            f"{len(rows)} runs",
            *([{"label": v, "value": v} for v in items] for items in listed),
        )

    # Not on the page's first build (the address already says what the controls show) and not on
    # the refresh: only a person's change of a filter writes the address, one history entry each.
    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Output("url-written", "data", allow_duplicate=True),
        Input("runs-from", "value"),
        Input("runs-to", "value"),
        *(Input(f"runs-filter-{key}", "value") for key in keys),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def write_address(since: str | None, until: str | None, *chosen: Any) -> tuple[Any, Any]:  # noqa: ANN401
        *filters, current = chosen
        values = {key: list(value or []) for key, value in zip(keys, filters, strict=True)}
        search = params.runs_search(values, since, until)
        if search == (current or ""):
            return no_update, no_update
        return search, search
