"""Runs: every run in a table with filters, sorting and CSV export; a run id opens its page.

The filters are written back into the address (``?user=…&from=…``) when a person changes them,
so that a reload or a shared link shows the same runs; the live refresh re-reads the table only
and never touches the address or the filters.

The CSV and JSON exports are built here, not by the DataTable: the table's own export writes its
data as shown, markdown links and rounded text included, in the browser. These re-read the runs
of the filters shown, in the table's order, and write the stored SI values in columns named
with their unit, the plain run id and the marks as flags, every CSV cell a spreadsheet would run
as a formula neutralised (``exports``). The table sorts on the server too: its cells are text
in the unit each value reaches, which sorts by the raw number only there."""

from datetime import datetime
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from pymongo.database import Database

from joulestream.dash_app import checks, data, exports, figures, params, units
from joulestream.dash_app.pages import common
from joulestream.dash_app.settings import DashSettings

COLUMNS = [
    ("run", "Run"),
    ("user_id", "User"),
    ("project", "Project"),
    ("model", "Model"),
    ("region", "Region"),
    ("status_shown", "Status"),
    ("energy", "Energy"),
    ("co2e", "CO2e"),
    ("cost", "Cost"),
    ("started", "Started (UTC)"),
    ("last_event", "Last event (UTC)"),
]
COLUMN_KEYS = [key for key, _ in COLUMNS]


def export_columns(settings: DashSettings) -> list[str]:
    """The export's columns: every field of ``figures.run_record``, unit in each name."""
    return [
        "run_id", "user_id", "project", "model", "dataset", "framework", "region", "status",
        "state", "events", "started_at_utc", "last_event_at_utc", "finished_at_utc",
        "duration_s", "energy_j", "mean_power_w", "co2e_g", figures.cost_column(settings),
        "pue", "intensity_g_per_kwh", "intensity_fallback", "energy_estimated", "samples",
        "energy_j_per_sample", "co2e_g_per_sample",
    ]  # fmt: skip


def _date_or_none(text: str, name: str, messages: list[str]) -> str | None:
    """``text``'s day (``YYYY-MM-DD``) for a date picker, or ``None`` with a message when it is
    not a date."""
    at, problem = params.parse_date(text, name)
    if problem:
        messages.append(problem)
    return f"{at:%Y-%m-%d}" if at is not None else None


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
        dcc.DatePickerRange(
            id="runs-dates",
            # A malformed date in the address is reported above and not given to the picker.
            start_date=_date_or_none(since, "from", messages),
            end_date=_date_or_none(until, "to", messages),
            display_format="YYYY-MM-DD",
            start_date_placeholder_text="active from",
            end_date_placeholder_text="to",
            clearable=True,
            minimum_nights=0,
        ),
    ]
    return html.Div(
        [
            html.H2("Runs"),
            common.message(messages),
            html.Div(filters, style={"display": "flex", "flexWrap": "wrap", "gap": "6px"}),
            html.Div(id="runs-message"),
            html.Div(
                [html.Span(id="runs-count"), common.export_buttons("runs-export")],
                style={"display": "flex", "gap": "12px", "alignItems": "center", "margin": "6px 0"},
            ),
            common.table("runs-table", COLUMNS, page_size=25, row_selectable=False),
            common.legend("runs-legend"),
        ]
    )


def view(
    db: Database[data.Document],
    values: dict[str, Any],
    since: object,
    until: object,
    now: datetime | None = None,
    settings: DashSettings | None = None,
    sort_by: object = None,
) -> tuple[list[dict[str, Any]], dict[str, list[str]], list[str]]:
    """Table rows (in the order of ``sort_by``), the options of each filter (keyed like
    ``FILTER_FIELDS``) and messages."""
    run_filter, messages = params.runs_filter(values, since, until)
    listed = data.list_runs(db, run_filter)
    rows = figures.sorted_rows(figures.run_rows(listed, now, settings), sort_by, COLUMN_KEYS)
    # Unfiltered, the table holds every run: its options need no second read of ``runs``.
    every = data.lists_every_run(run_filter, listed)
    by_field = data.options_of(listed) if every else data.filter_options(db)
    options = {key: by_field[field] for key, field in data.FILTER_FIELDS.items()}
    if not rows:
        any_run = any(options.values())
        messages.append("No run matches these filters." if any_run else common.EMPTY_FLEET)
    return rows, options, messages


def export(
    db: Database[data.Document],
    values: dict[str, Any],
    since: object,
    until: object,
    sort_by: object,
    fmt: str,
    now: datetime,
    settings: DashSettings | None = None,
) -> dict[str, Any]:
    """The runs of these filters, in the table's order, as a download (``exports``)."""
    settings = settings or DashSettings()
    run_filter, _ = params.runs_filter(values, since, until)
    rows = figures.sorted_rows(
        figures.run_rows(data.list_runs(db, run_filter), now, settings), sort_by, COLUMN_KEYS
    )
    return exports.download(rows, export_columns(settings), "runs", now, fmt)


def register(app: Dash, db: Database[data.Document], settings: DashSettings) -> None:
    keys = list(data.FILTER_FIELDS)

    @app.callback(
        Output("runs-table", "data"),
        Output("runs-message", "children"),
        Output("runs-count", "children"),
        *(Output(f"runs-filter-{key}", "options") for key in keys),
        Input("refresh", "n_intervals"),
        Input("runs-dates", "start_date"),
        Input("runs-dates", "end_date"),
        Input("runs-table", "sort_by"),
        *(Input(f"runs-filter-{key}", "value") for key in keys),
    )
    def refresh(
        _n: int | None, since: object, until: object, sort_by: object, *chosen: object
    ) -> tuple[Any, ...]:
        try:
            values = params.filter_values(dict(zip(keys, chosen, strict=True)))
            rows, options, messages = view(
                db, values, since, until, common.now(), settings, sort_by
            )
        except common.FAILURES as exc:
            return ([], common.message(common.failure(exc)), "", *([] for _ in keys))
        # A chosen value stays an option even when no run has it any more.
        listed = [sorted({*options[key], *values[key]}) for key in keys]
        return (
            rows,
            common.message(messages),
            units.count(len(rows), "run"),
            *([{"label": v, "value": v} for v in items] for items in listed),
        )

    # Not on the page's first build (the address already says what the controls show) and not on
    # the refresh: only a person's change of a filter writes the address, one history entry each.
    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Output("url-written", "data", allow_duplicate=True),
        Input("runs-dates", "start_date"),
        Input("runs-dates", "end_date"),
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

    def build(fmt: str, since: object, until: object, *chosen: object) -> dict[str, Any]:
        *filters, sort_by = chosen
        values = dict(zip(keys, filters, strict=True))
        return export(db, values, since, until, sort_by, fmt, common.now(), settings)

    common.register_export(
        app,
        "runs-export",
        [
            State("runs-dates", "start_date"),
            State("runs-dates", "end_date"),
            *(State(f"runs-filter-{key}", "value") for key in keys),
            State("runs-table", "sort_by"),
        ],
        build,
    )
