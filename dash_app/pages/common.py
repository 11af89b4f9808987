"""Pieces the pages share."""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import dash_mantine_components as dmc  # type: ignore[import-untyped]  # ships no type information
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.dash_table.DataTable import DataTable
from pymongo.errors import PyMongoError

from joulestream.dash_app import checks, figures, marks, params

EMPTY_FLEET = "No runs yet: start a trainer, or `make demo` for a simulated fleet."
NUMERIC_COLUMNS = ("runs", "energy", "co2e", "cost", "wh_per_1k", "g_per_kwh")
TABLE_STYLE: dict[str, Any] = {
    "style_cell": {
        "fontFamily": "inherit",
        "padding": "4px 6px",
        "fontSize": "13px",
        "textAlign": "left",
    },
    "style_cell_conditional": [
        {"if": {"column_id": key}, "textAlign": "right"} for key in NUMERIC_COLUMNS
    ],
    "style_header": {"fontWeight": "bold"},
    "style_table": {"overflowX": "auto"},
    # Long ids and names are cut with an ellipsis (the whole text in the cell's tooltip) rather
    # than widening the table past the page.
    "style_data": {"overflow": "hidden", "textOverflow": "ellipsis", "maxWidth": "220px"},
}


def now() -> datetime:
    return datetime.now(UTC)


def card(title: str, value: str, note: str = "", card_id: str | None = None) -> Any:  # noqa: ANN401
    """A figure with its title and a note under it, on a Mantine paper."""
    children = [
        html.Div(title, className="card-title"),
        html.Div(value, className="card-value"),
        html.Div(note, className="card-note"),
    ]
    kwargs: dict[str, Any] = {"id": card_id} if card_id else {}
    return dmc.Paper(
        children, withBorder=True, shadow="xs", p="sm", style={"minWidth": "160px"}, **kwargs
    )


def cards(children: list[Any]) -> html.Div:
    return html.Div(children, style={"display": "flex", "flexWrap": "wrap", "gap": "10px"})


def message(text: str | list[str] | None, element_id: str | None = None) -> html.Div:
    """A notice above a page's content; nothing when there is nothing to say."""
    lines = [line for line in ([text] if isinstance(text, str) else (text or [])) if line]
    style = {"color": "#8a5300", "background": "#fff4e0", "padding": "6px 10px"}
    kwargs: dict[str, Any] = {"id": element_id} if element_id else {}
    if not lines:
        return html.Div([], **kwargs)
    return html.Div([html.Div(line) for line in lines], style=style, className="notice", **kwargs)


HIDDEN = {"display": "none"}
# A graph waiting for data keeps its width (no height, invisible): Plotly sizes a graph from
# its container when it draws, and one drawn inside a hidden (display: none) box takes its
# default 700 px, wider than a half-page column at 1280 px.
GRAPH_HIDDEN = {"height": "0", "overflow": "hidden", "visibility": "hidden"}
SHOWN: dict[str, str] = {}


def chart(graph_id: str, message: str) -> html.Div:
    """A chart that shows a one-line ``message`` (``<graph_id>-empty``) in its place until it
    has something to draw: an empty Plotly figure is a blank frame of several hundred pixels.
    Its callback fills ``chart_outputs`` with ``chart_values``."""
    return html.Div(
        [
            html.Div(message, id=f"{graph_id}-empty", className="chart-empty"),
            dcc.Graph(id=graph_id, config={"displaylogo": False}, style=GRAPH_HIDDEN),
        ],
        className="chart",
    )


def chart_outputs(graph_id: str) -> list[Output]:
    """The chart's figure, the graph's style (hidden while empty) and its message."""
    return [
        Output(graph_id, "figure"),
        Output(graph_id, "style"),
        Output(f"{graph_id}-empty", "children"),
        Output(f"{graph_id}-empty", "style"),
    ]


def chart_values(
    figure: go.Figure,
) -> tuple[go.Figure, dict[str, str], str, dict[str, str]]:
    """What ``chart_outputs`` get for ``figure``: the figure, or its message when it is one of
    ``figures.empty_figure``'s (nothing at all for one without a message: an unknown run)."""
    if figures.is_empty(figure):
        text = figures.empty_message(figure)
        return figure, GRAPH_HIDDEN, text, SHOWN if text else HIDDEN
    return figure, SHOWN, "", HIDDEN


def table(table_id: str, columns: list[tuple[str, str]], **kwargs: Any) -> DataTable:  # noqa: ANN401
    """A table whose sorting is done by the server (``sort_action="custom"``): cells show text
    in the unit each value reaches ("6.00 Wh", "1.20 kWh"), which sorts by its raw number only
    there (``figures.sorted_rows``)."""
    return DataTable(
        id=table_id,
        columns=[
            {"id": key, "name": name, "presentation": "markdown" if key == "run" else "input"}
            for key, name in columns
        ],
        sort_action="custom",
        sort_mode="single",
        sort_by=[],
        # A run's link opens its page in the same tab (a table's default is a new one).
        markdown_options={"link_target": "_self"},
        **TABLE_STYLE,
        **kwargs,
    )


def legend(element_id: str) -> html.Div:
    """What the marks on CO2e figures mean (``marks.LEGEND``)."""
    return html.Div(
        marks.LEGEND,
        id=element_id,
        className="marks-legend",
    )


def export_buttons(prefix: str, label: str = "Export") -> html.Div:
    """CSV and JSON buttons (``<prefix>-csv``, ``<prefix>-json``), a message (``<prefix>-message``)
    and the download they fill (``<prefix>-download``)."""
    return html.Div(
        [
            html.Span(label, style={"fontSize": "13px"}),
            html.Button("CSV", id=f"{prefix}-csv", n_clicks=0),
            html.Button("JSON", id=f"{prefix}-json", n_clicks=0),
            html.Span(id=f"{prefix}-message"),
            dcc.Download(id=f"{prefix}-download"),
        ],
        className="export",
        style={"display": "flex", "gap": "6px", "alignItems": "center"},
    )


def export_format(triggered_id: object) -> str:
    """``"csv"`` or ``"json"`` from the id of the export button pressed."""
    return "json" if str(triggered_id).endswith("-json") else "csv"


# A row of controls as wide as its controls, not the page: Dash's date picker grows to fill a
# flex row (``flex: 1``), so a full-width row stretches "from → to" across the page. (Fleet's
# range sits in a flex row of its own, where it is as narrow already.)
COMPACT_ROW = {
    "display": "inline-flex",
    "gap": "8px",
    "alignItems": "center",
    "flexWrap": "wrap",
    "maxWidth": "100%",
}


def range_controls(
    prefix: str, query: dict[str, list[str]], default: str
) -> tuple[html.Div, list[str]]:
    """A time range: presets (``<prefix>-range``) and a custom range of days with date pickers
    (``<prefix>-dates``), from the address's ``range``, ``from`` and ``to``; and the messages
    about what the address got wrong. ``sync_range`` keeps the two consistent."""
    options = [*params.RANGES, params.ALL_TIME, params.CUSTOM]
    range_key, problem = params.choice(query, "range", options, default)
    since = next(iter(query.get("from") or []), None)
    until = next(iter(query.get("to") or []), None)
    if since or until:
        range_key = params.CUSTOM
    controls = html.Div(
        [
            html.Label("Range", htmlFor=f"{prefix}-range"),
            dcc.Dropdown(
                id=f"{prefix}-range",
                options=[{"label": params.RANGE_LABELS[k], "value": k} for k in options],
                value=range_key,
                clearable=False,
                searchable=False,
                style={"width": "200px"},
            ),
            dcc.DatePickerRange(
                id=f"{prefix}-dates",
                start_date=since[:10] if since else None,
                end_date=until[:10] if until else None,
                display_format="YYYY-MM-DD",
                start_date_placeholder_text="from",
                end_date_placeholder_text="to",
                clearable=True,
                minimum_nights=0,
            ),
        ],
        className="range-controls",
        style=COMPACT_ROW,
    )
    return controls, [problem] if problem else []


# A dropdown's room beside its text (Dash's: 12 px padding either side, an 8 px gap, a 1 em
# caret and the borders).
DROPDOWN_CHROME_PX = 56


def fitting_width(labels: Iterable[str]) -> str:
    """A dropdown's CSS width that shows its longest option whole: one ``ch`` (the width of a
    digit, wider than the average letter of a proportional font) per character, plus the
    dropdown's own padding and caret."""
    longest = max((len(label) for label in labels), default=0)
    return f"calc({longest}ch + {DROPDOWN_CHROME_PX}px)"


def sync_range(
    triggered: object, range_key: object, since: object, until: object
) -> tuple[object, object, object]:
    """(range, from, to) after a person's change: a preset clears the dates, a date picked sets
    the range to custom."""
    if str(triggered).endswith("-range"):
        if range_key == params.CUSTOM:
            return range_key, since, until
        return range_key, None, None
    if since or until:
        return params.CUSTOM, since, until
    return params.ALL_TIME if range_key == params.CUSTOM else range_key, since, until


def zoomed_days(relayout: object) -> tuple[str, str] | None:
    """The days a zoom on a time axis spans (Plotly's ``relayoutData``:
    ``{"xaxis.range[0]": "2026-06-03 10:12:00", "xaxis.range[1]": …}``), as ``YYYY-MM-DD``
    for the date pickers; ``None`` for anything else (a reset, a legend click, a hand-made
    value)."""
    if not isinstance(relayout, dict):
        return None
    start, end = relayout.get("xaxis.range[0]"), relayout.get("xaxis.range[1]")
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    days = start[:10], end[:10]
    if any(params.parse_date(day, "zoom")[1] for day in days):
        return None
    return days


def db_error(exc: Exception) -> str:
    return f"MongoDB did not answer ({type(exc).__name__}); showing nothing until it does."


# What a page's callback turns into a message instead of an error: the database failing, or a
# value of the wrong shape (a hand-made request), refused before any query.
FAILURES = (PyMongoError, checks.InvalidInput)


def failure(exc: Exception) -> str:
    """The message for one of ``FAILURES``."""
    return str(exc) if isinstance(exc, checks.InvalidInput) else db_error(exc)


def register_export(
    app: Dash,
    prefix: str,
    states: list[State],
    build: Callable[..., dict[str, Any] | None],
    missing: str = "",
) -> None:
    """Fills ``export_buttons(prefix)``'s download when one of its buttons is pressed:
    ``build(fmt, *values of states)`` is the file, or ``None`` for nothing to export (``missing``
    is said then); one of ``FAILURES`` is said in ``<prefix>-message`` and downloads nothing."""

    @app.callback(
        Output(f"{prefix}-download", "data"),
        Output(f"{prefix}-message", "children"),
        Input(f"{prefix}-csv", "n_clicks"),
        Input(f"{prefix}-json", "n_clicks"),
        *states,
        prevent_initial_call=True,
    )
    def download(_csv: int | None, _json: int | None, *values: object) -> tuple[Any, Any]:
        fmt = export_format(ctx.triggered_id)
        try:
            shown = build(fmt, *values)
        except FAILURES as exc:
            return no_update, failure(exc)
        return (no_update, missing) if shown is None else (shown, "")
