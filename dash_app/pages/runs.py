"""Runs: every run in a table with filters, sorting and CSV export; a run id opens its page.

The filters are written back into the address (``?user=…&from=…``) when a person changes them,
so that a reload or a shared link shows the same runs; the live refresh re-reads the table only
and never touches the address or the filters.

The CSV export is built here, not by the DataTable: the table's own export writes its data as
given, markdown links included, in the browser. This one re-reads the runs of the filters shown,
in the table's order, writes the plain run id, and neutralises every cell a spreadsheet would
run as a formula (``figures.runs_csv``)."""

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from pymongo.database import Database

from joulestream.dash_app import checks, data, figures, params
from joulestream.dash_app.pages import common

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
# The export's columns: the run id as text where the table has its link.
EXPORT_COLUMNS = [("run_id", "Run"), *COLUMNS[1:]]


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
            html.Div(
                [
                    html.Span(id="runs-count"),
                    html.Button("Export CSV", id="runs-export", n_clicks=0),
                    html.Span(id="runs-export-message"),
                    dcc.Download(id="runs-download"),
                ],
                style={"display": "flex", "gap": "12px", "alignItems": "center", "margin": "6px 0"},
            ),
            common.table("runs-table", COLUMNS, page_size=25, row_selectable=False),
        ]
    )


def view(
    db: Database[data.Document], values: dict[str, Any], since: object, until: object
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


def sorted_rows(rows: list[dict[str, Any]], sort_by: object) -> list[dict[str, Any]]:
    """``rows`` in the order of the table's ``sort_by`` (the first column first); an empty value
    goes last either way. The run column sorts by the run id."""
    keys = checks.sort_by(sort_by, [key for key, _ in COLUMNS])
    ordered = list(rows)
    for column, descending in reversed(keys):
        field = "run_id" if column == "run" else column
        present = [row for row in ordered if row.get(field) not in (None, "")]
        empty = [row for row in ordered if row.get(field) in (None, "")]
        ordered = sorted(present, key=lambda row: row[field], reverse=descending) + empty
    return ordered


def export_csv(
    db: Database[data.Document],
    values: dict[str, Any],
    since: object,
    until: object,
    sort_by: object,
) -> str:
    """The runs of these filters as CSV, in the table's order (``figures.runs_csv``)."""
    run_filter, _ = params.runs_filter(values, since, until)
    rows = sorted_rows(figures.run_rows(data.list_runs(db, run_filter)), sort_by)
    return figures.runs_csv(rows, EXPORT_COLUMNS)


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
    def refresh(_n: int | None, since: object, until: object, *chosen: object) -> tuple[Any, ...]:
        try:
            values = params.filter_values(dict(zip(keys, chosen, strict=True)))
            rows, options, messages = view(db, values, since, until)
        except common.FAILURES as exc:
            return ([], common.message(common.failure(exc)), "", *([] for _ in keys))
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
        try:
            search = params.runs_search(dict(zip(keys, filters, strict=True)), since, until)
        except checks.InvalidInput:
            return no_update, no_update  # the refresh, on the same values, says what is wrong
        if search == (current or ""):
            return no_update, no_update
        return search, search

    @app.callback(
        Output("runs-download", "data"),
        Output("runs-export-message", "children"),
        Input("runs-export", "n_clicks"),
        State("runs-from", "value"),
        State("runs-to", "value"),
        *(State(f"runs-filter-{key}", "value") for key in keys),
        State("runs-table", "sort_by"),
        prevent_initial_call=True,
    )
    def export(
        _clicks: int | None, since: object, until: object, *chosen: object
    ) -> tuple[Any, Any]:
        *filters, sort_by = chosen
        values = dict(zip(keys, filters, strict=True))
        try:
            text = export_csv(db, values, since, until, sort_by)
        except common.FAILURES as exc:
            return no_update, common.failure(exc)
        # What dcc.send_string returns (untyped there): text, not base64.
        download = {"content": text, "filename": "runs.csv", "type": "text/csv", "base64": False}
        return download, ""
