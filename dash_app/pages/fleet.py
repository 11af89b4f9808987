"""Fleet: live totals, energy and CO2e over time by user, model or region, the top runs and the
pipeline's health."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from pymongo.database import Database

from joulestream.dash_app import data, figures, params, units
from joulestream.dash_app.pages import common

# "Power now" counts the running runs whose last event is this recent. Trackers report every few
# seconds (a window closes every minute), so 5 minutes leaves room for a slow or briefly
# disconnected trainer while a run that stopped reporting drops out within minutes.
POWER_NOW_MAX_AGE = timedelta(minutes=5)
# Rollups are read up to this far past the dashboard's clock: a trainer's clock may run ahead.
CLOCK_AHEAD = timedelta(days=1)
TOP_COLUMNS = [
    ("run", "Run"),
    ("user_id", "User"),
    ("model", "Model"),
    ("region", "Region"),
    ("status", "Status"),
    ("energy_kwh", "Energy (kWh)"),
    ("co2e_kg", "CO2e (kg)"),
]


def layout(route: params.Route) -> html.Div:
    group, group_msg = params.choice(route.query, "group", list(params.GROUPS), "user")
    ranges = [*params.RANGES, params.ALL_TIME]
    range_key, range_msg = params.choice(route.query, "range", ranges, "7d")
    return html.Div(
        [
            html.H2("Fleet"),
            common.message([m for m in (group_msg, range_msg) if m]),
            html.Div(id="fleet-message"),
            html.Div(id="fleet-cards"),
            html.Div(
                [
                    html.Label("Stack by "),
                    dcc.Dropdown(
                        id="fleet-group",
                        options=[{"label": k, "value": k} for k in params.GROUPS],
                        value=group,
                        clearable=False,
                        style={"width": "160px"},
                    ),
                    html.Label(" over "),
                    dcc.Dropdown(
                        id="fleet-range",
                        options=[{"label": k, "value": k} for k in ranges],
                        value=range_key,
                        clearable=False,
                        style={"width": "120px"},
                    ),
                ],
                style={"display": "flex", "gap": "8px", "alignItems": "center", "margin": "8px 0"},
            ),
            common.graph("fleet-energy"),
            common.graph("fleet-co2e"),
            html.H3("Top runs by energy"),
            common.table("fleet-top", TOP_COLUMNS),
            html.H3("Pipeline health"),
            html.Div(id="fleet-health"),
        ]
    )


@dataclass
class FleetView:
    message: str
    cards: html.Div
    energy: go.Figure
    co2e: go.Figure
    top: list[dict[str, Any]]
    health: html.Div


def view(db: Database[data.Document], group: str, range_key: str, now: datetime) -> FleetView:
    group_field = params.GROUPS[params.known(group, "group", params.GROUPS, "user")]
    ranges = [*params.RANGES, params.ALL_TIME]
    since = params.since(params.known(range_key, "range", ranges, params.ALL_TIME), now)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    chart_since = min(s for s in (since, week, today) if s is not None) if since else None
    rollups = data.rollups_since(db, chart_since, now + CLOCK_AHEAD)
    energy_all_j, co2e_all_g, run_count = data.all_time_totals(db)
    running = data.running_runs(db)
    # From ``runs.power_w`` only: the Fleet page reads no ``windows``, the largest collection.
    power_now_w, reporting = figures.power_now_w(running, now - POWER_NOW_MAX_AGE)
    energy_today_j, co2e_today_g = figures.totals_since(rollups, today)
    energy_week_j, co2e_week_g = figures.totals_since(rollups, week)
    totals = common.cards(
        [
            common.card("Active runs", f"{len(running)}", f"of {run_count} runs", "fleet-active"),
            common.card("Power now", units.power(power_now_w), f"{reporting} runs reporting"),
            _totals_card("Today", energy_today_j, co2e_today_g),
            _totals_card("This week", energy_week_j, co2e_week_g),
            _totals_card("All time", energy_all_j, co2e_all_g, "fleet-all-time"),
        ]
    )
    return FleetView(
        message="" if run_count else common.EMPTY_FLEET,
        cards=totals,
        energy=figures.fleet_figure(rollups, group_field, "energy_j", since),
        co2e=figures.fleet_figure(rollups, group_field, "co2e_g", since),
        top=figures.run_rows(data.top_runs(db)),
        health=_health(data.health(db)),
    )


def _totals_card(
    title: str, energy_j: float, co2e_g: float, card_id: str | None = None
) -> html.Div:
    return common.card(
        title,
        f"{units.energy(energy_j)} · {units.co2e(co2e_g)}",
        units.equivalents(energy_j, co2e_g),
        card_id,
    )


def _health(health: data.Health) -> html.Div:
    last = health.last_event_at
    letters = [
        html.Li(
            f"{letter.get('received_at'):%Y-%m-%d %H:%M:%S} {letter['_id']}: {letter['reason']}"
        )
        for letter in health.latest_dead_letters
    ]
    return html.Div(
        [
            html.Div(
                f"Last update: {last:%Y-%m-%d %H:%M:%S} UTC" if last else "Last update: none yet",
                id="fleet-last-update",
            ),
            html.Div(f"Late events: {health.late_events}", id="fleet-late"),
            html.Div(f"Dead letters: {health.dead_letters}", id="fleet-dead"),
            html.Ul(letters) if letters else html.Div(),
        ]
    )


def register(app: Dash, db: Database[data.Document]) -> None:
    @app.callback(
        Output("fleet-message", "children"),
        Output("fleet-cards", "children"),
        Output("fleet-energy", "figure"),
        Output("fleet-co2e", "figure"),
        Output("fleet-top", "data"),
        Output("fleet-health", "children"),
        Input("refresh", "n_intervals"),
        Input("fleet-group", "value"),
        Input("fleet-range", "value"),
    )
    def refresh(
        _n: int | None, group: str, range_key: str
    ) -> tuple[html.Div, Any, go.Figure, go.Figure, list[dict[str, Any]], Any]:
        try:
            shown = view(db, group, range_key, common.now())
        except common.FAILURES as exc:
            blank = figures.empty_figure("No data")
            return common.message(common.failure(exc)), [], blank, blank, [], []
        return (
            common.message(shown.message),
            shown.cards,
            shown.energy,
            shown.co2e,
            shown.top,
            shown.health,
        )
