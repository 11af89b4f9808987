"""Fleet: live totals, energy and CO2e over time by user, model or region, the top runs and the
pipeline's health.

Live runs and power now count only the ``running`` runs heard from within
``DashSettings.stale_after_s`` (``liveness``): a trainer that died without ``run_finished`` drops
out within minutes, before the job calls it ``lost``. Today, This week and All time all add up
the ``rollups`` (the same documents, so they agree; All time keeps the sum of the periods too
old to change between refreshes: ``settled``); what the runs' own totals hold beyond them (a
period still being written) is said under the cards. The rollups' period (hourly by
default) is read from the documents (``lengths``): it names them in the texts and is the
charts' finest bar."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from pymongo.database import Database

from joulestream.dash_app import (
    checks,
    data,
    figures,
    fleet_runs,
    lengths,
    liveness,
    marks,
    params,
    settled,
    units,
)
from joulestream.dash_app.pages import common
from joulestream.dash_app.settings import DashSettings

# Rollups are read up to this far past the dashboard's clock: a trainer's clock may run ahead.
CLOCK_AHEAD = timedelta(days=1)
TOP_COLUMNS = [
    ("run", "Run"),
    ("user_id", "User"),
    ("model", "Model"),
    ("region", "Region"),
    ("status_shown", "Status"),
    ("energy", "Energy"),
    ("co2e", "CO2e"),
    ("cost", "Cost"),
]


def layout(route: params.Route) -> html.Div:
    group, group_msg = params.choice(route.query, "group", list(params.GROUPS), "user")
    ranges, range_msgs = common.range_controls("fleet", route.query, "7d")
    known = {"group", "range", "from", "to"}
    unknown = [f"Unknown parameter {key!r}; known: {', '.join(sorted(known))}."
               for key in sorted(set(route.query) - known)]  # fmt: skip
    return html.Div(
        [
            html.H2("Fleet"),
            common.message([m for m in (group_msg, *range_msgs, *unknown) if m]),
            html.Div(id="fleet-message"),
            html.Div(id="fleet-cards"),
            html.Div(
                [
                    html.Label("Stack by", htmlFor="fleet-group"),
                    dcc.Dropdown(
                        id="fleet-group",
                        options=[{"label": k, "value": k} for k in params.GROUPS],
                        value=group,
                        clearable=False,
                        searchable=False,
                        style={"width": "140px"},
                    ),
                    ranges,
                ],
                style={
                    "display": "flex",
                    "gap": "8px",
                    "alignItems": "center",
                    "margin": "8px 0",
                    "flexWrap": "wrap",
                },
            ),
            common.chart("fleet-energy", "Energy: reading the hourly totals…"),
            common.chart("fleet-co2e", "CO2e: reading the hourly totals…"),
            html.H3("Top runs by energy"),
            common.table("fleet-top", TOP_COLUMNS),
            common.legend("fleet-legend"),
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


# Run totals ahead of the rollups' periods by less than this share are the periods' rounding
# (each run's CO2e in a period is rounded down to about a microgram), not something pending.
PENDING_SHARE = 1e-6


def pending_note(runs_energy_j: float, rollups_energy_j: float, period: timedelta | None) -> str:
    """What the runs' own totals hold beyond the rollups, under the cards; the rollups named by
    their ``period`` (``lengths.period_length``)."""
    periods = f"{lengths.adjective(period)} periods" if period is not None else "periods"
    pending_j = runs_energy_j - rollups_energy_j
    if pending_j > PENDING_SHARE * max(runs_energy_j, 1.0):
        return f"{units.energy(pending_j)} measured by running runs is not yet in the {periods}"
    return f"Today, This week and All time add up the same {periods}"


def view(
    db: Database[data.Document],
    group: str,
    range_key: str,
    now: datetime,
    settings: DashSettings | None = None,
    sort_by: object = None,
    dates: tuple[object, object] = (None, None),
    kept: settled.SettledTotals | None = None,
) -> FleetView:
    """What the page shows; the charts over the range (a preset, or ``dates``: custom from and
    to), the cards over their own periods. ``kept`` keeps the settled rollups' sum between
    calls (the app keeps one); without it, each call sums them again."""
    settings = settings or DashSettings()
    group_field = params.GROUPS[params.known(group, "group", params.GROUPS, "user")]
    since, until, range_messages = params.time_range(range_key, *dates, now)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    chart_since = min(s for s in (since, week, today) if s is not None) if since else None
    chart_until = max(now, until or now) + CLOCK_AHEAD
    # One indexed read serves the charts, Today, This week and the unsettled part of All time.
    settled_until = settled.cutoff(now, settings.settled_after_s)
    read_since = None if chart_since is None else min(chart_since, settled_until)
    read = data.rollups_since(db, read_since, data.LAST_13_DIGIT_DATE)
    rollups = [
        r
        for r in read
        if (chart_since is None or r["period_start"] >= chart_since)
        and r["period_start"] < chart_until
    ]
    # One read of every run serves the counts, power now, the marks, the top runs and the
    # newest event: the local FerretDB decodes every run for each query on ``runs`` it is sent
    # (a sort, a ``$group``, a ``$regex``); the top runs' rows then read those ten by ``_id``.
    fleet = fleet_runs.fold(data.every_run(db))
    settled_part = (kept if kept is not None else settled.SettledTotals()).totals(db, settled_until)
    energy_all_j, co2e_all_g = settled.all_time(settled_part, read, settled_until)
    stale_after = timedelta(seconds=settings.stale_after_s)
    live = [r for r in fleet.running if liveness.state(r, now, stale_after) == liveness.LIVE]
    # From ``runs.power_w`` only: the Fleet page reads no ``windows``, the largest collection.
    power_now_w, reporting = figures.power_now_w(live, now - stale_after)
    energy_today_j, co2e_today_g = figures.totals_since(rollups, today)
    energy_week_j, co2e_week_g = figures.totals_since(rollups, week)

    def flags_since(start: datetime | None) -> marks.Flags:
        return marks.of_runs(
            r for r in fleet.flagged if start is None or (r.get("last_event_at") or start) >= start
        )

    period = lengths.period_length(rollups)
    pending = pending_note(fleet.energy_j, energy_all_j, period)
    totals = common.cards(
        [
            common.card(
                "Live runs",
                f"{len(live)}",
                f"{len(fleet.running) - len(live)} stale · {fleet.lost} lost · of "
                f"{units.count(fleet.count, 'run')}",
                "fleet-active",
            ),
            common.card(
                "Power now",
                units.power(power_now_w),
                f"{units.count(reporting, 'live run')} reporting",
                "fleet-power",
            ),
            _totals_card(
                "Today", energy_today_j, co2e_today_g, flags_since(today), settings, "fleet-today"
            ),
            _totals_card(
                "This week", energy_week_j, co2e_week_g, flags_since(week), settings, "fleet-week"
            ),
            _totals_card(
                "All time", energy_all_j, co2e_all_g, flags_since(None), settings, "fleet-all-time"
            ),
        ]
    )
    top = data.runs_in_order(db, [str(r["run_id"]) for r in fleet.top])
    rows = figures.run_rows(top, now, settings)
    size = figures.granularity((until or now) - since if since is not None else None, period)
    return FleetView(
        message=" ".join([*range_messages, "" if fleet.count else common.EMPTY_FLEET]).strip(),
        cards=html.Div([totals, html.Div(pending, id="fleet-pending", className="card-note")]),
        energy=figures.fleet_figure(rollups, group_field, "energy_j", since, size, until),
        co2e=figures.fleet_figure(rollups, group_field, "co2e_g", since, size, until),
        top=figures.sorted_rows(rows, sort_by, [key for key, _ in TOP_COLUMNS]),
        health=_health(data.health(db, fleet.last_event_at)),
    )


def _totals_card(
    title: str,
    energy_j: float,
    co2e_g: float,
    flags: marks.Flags,
    settings: DashSettings,
    card_id: str | None = None,
) -> Any:  # noqa: ANN401
    cost = units.money(settings.cost(energy_j), settings.currency)
    equivalents = units.equivalents(energy_j, co2e_g)
    return common.card(
        title,
        f"{units.energy(energy_j)} · {marks.marked(units.co2e(co2e_g), flags)}",
        " · ".join(part for part in (cost, equivalents) if part),
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


def register(app: Dash, db: Database[data.Document], settings: DashSettings) -> None:
    kept = settled.SettledTotals()

    @app.callback(
        Output("fleet-message", "children"),
        Output("fleet-cards", "children"),
        *common.chart_outputs("fleet-energy"),
        *common.chart_outputs("fleet-co2e"),
        Output("fleet-top", "data"),
        Output("fleet-health", "children"),
        Input("refresh", "n_intervals"),
        Input("fleet-group", "value"),
        Input("fleet-range", "value"),
        Input("fleet-dates", "start_date"),
        Input("fleet-dates", "end_date"),
        Input("fleet-top", "sort_by"),
    )
    def refresh(
        _n: int | None,
        group: str,
        range_key: str,
        since: object,
        until: object,
        sort_by: object,
    ) -> tuple[Any, ...]:
        try:
            now = common.now()
            shown = view(db, group, range_key, now, settings, sort_by, (since, until), kept)
        except common.FAILURES as exc:
            blank = common.chart_values(figures.empty_figure("No data"))
            return common.message(common.failure(exc)), [], *blank, *blank, [], []
        return (
            common.message(shown.message),
            shown.cards,
            *common.chart_values(shown.energy),
            *common.chart_values(shown.co2e),
            shown.top,
            shown.health,
        )

    @app.callback(
        Output("fleet-range", "value"),
        Output("fleet-dates", "start_date"),
        Output("fleet-dates", "end_date"),
        Input("fleet-range", "value"),
        Input("fleet-dates", "start_date"),
        Input("fleet-dates", "end_date"),
        Input("fleet-energy", "relayoutData"),
        Input("fleet-co2e", "relayoutData"),
        prevent_initial_call=True,
    )
    def sync(
        range_key: object, since: object, until: object, *zooms: object
    ) -> tuple[object, object, object]:
        # A zoom on either chart picks its days as a custom range (the pickers take days, so a
        # zoom within a day shows that day).
        if str(ctx.triggered_id) in ("fleet-energy", "fleet-co2e"):
            days = common.zoomed_days(zooms[0 if ctx.triggered_id == "fleet-energy" else 1])
            if days is None:
                return no_update, no_update, no_update
            return params.CUSTOM, *days
        return common.sync_range(ctx.triggered_id, range_key, since, until)

    # Only a person's change writes the address (group and range), one history entry each.
    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Output("url-written", "data", allow_duplicate=True),
        Input("fleet-group", "value"),
        Input("fleet-range", "value"),
        Input("fleet-dates", "start_date"),
        Input("fleet-dates", "end_date"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def write_address(
        group: object, range_key: object, since: object, until: object, current: object
    ) -> tuple[Any, Any]:
        try:
            search = params.range_search([("group", group)], range_key, since, until)
        except checks.InvalidInput:
            return no_update, no_update
        if search == (current or ""):
            return no_update, no_update
        return search, search
