"""The dashboard: fleet, runs, one run, a comparison and leaderboards, refreshed live.

Reads MongoDB only (every query is in ``data.py``); routing is a ``dcc.Location`` whose pages are
built by ``dash_app.pages``. The live refresh re-runs the pages' data callbacks only: a page's
controls are built once per address, so a refresh keeps the filters chosen.

A page may write its controls back into the address (the runs page does, so that a reload or a
shared link keeps its filters): it sets ``url.search`` and ``url-written`` together, and the
router leaves the page as it is when the address changed to exactly what the page wrote. A
search the page did not write (a link, the browser's back button) builds the page again.

Served by gunicorn (``wsgi.py``, ``serve.py``), never by Dash's development server; the Flask
server refuses large requests and sends security headers (``headers.py``).
"""

import dash_mantine_components as dmc  # type: ignore[import-untyped]  # ships no type information
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from joulestream.dash_app import checks, data, headers, params, theme
from joulestream.dash_app.pages import compare, fleet, leaderboards, run, runs
from joulestream.dash_app.settings import DashSettings
from joulestream.dash_app.settings import from_env as settings_from_env

PAGES = {
    "fleet": fleet,
    "runs": runs,
    "run": run,
    "compare": compare,
    "leaderboards": leaderboards,
}
NAV = [
    ("/", "Fleet"),
    ("/runs", "Runs"),
    ("/compare", "Compare"),
    ("/leaderboards", "Leaderboards"),
]


def navigation() -> html.Header:
    """The bar on every page: the name, the pages, and the dark-mode switch."""
    return html.Header(
        dmc.Group(
            [
                dmc.Group(
                    [
                        html.B("joulestream", style={"fontSize": "18px"}),
                        html.Nav(
                            [
                                dcc.Link(
                                    label,
                                    href=href,
                                    id=f"nav-{label.lower()}",
                                    className="nav-link",
                                )
                                for href, label in NAV
                            ],
                            style={"display": "flex", "gap": "4px"},
                        ),
                    ],
                    gap="lg",
                ),
                dmc.Switch(id="theme-dark", label="Dark mode", checked=False, size="sm"),
            ],
            justify="space-between",
            px="md",
            py="xs",
        ),
        className="js-header",
    )


def layout(refresh_ms: int) -> dmc.MantineProvider:
    return dmc.MantineProvider(
        [
            # "callback-nav": a callback that sets the address changes it without a reload.
            dcc.Location(id="url", refresh="callback-nav"),
            # The address query a page wrote itself (see the module's docstring).
            dcc.Store(id="url-written", data=None),
            # The dark-mode choice, kept in the browser across visits.
            dcc.Store(id="theme-choice", storage_type="local"),
            dcc.Interval(id="refresh", interval=refresh_ms),
            navigation(),
            html.Main(
                dmc.Container([html.Div(id="banner"), html.Div(id="page")], size="xl", py="sm"),
            ),
        ],
        id="theme-provider",
        theme=theme.THEME,
        forceColorScheme="light",
    )


def page(pathname: str | None, search: str | None) -> html.Div:
    """The page an address names, or a message saying there is none."""
    try:
        route = params.route(pathname, search)
    except checks.InvalidInput as exc:
        return html.Div([html.H2("No such page"), html.P(str(exc))], id="not-found")
    module = PAGES.get(route.page)
    if module is None:
        return html.Div(
            [
                html.H2("No such page"),
                html.P(f"Nothing lives at {pathname!r}; the pages are linked above."),
            ],
            id="not-found",
        )
    shown: html.Div = module.layout(route)
    return shown


def banner(db: Database[data.Document]) -> html.Div:
    try:
        data.ping(db)
    except PyMongoError as exc:
        return html.Div(
            f"MongoDB is not reachable ({type(exc).__name__}); the figures below are not current. "
            "Retrying every few seconds.",
            id="db-down",
            style={"color": "white", "background": "#b00020", "padding": "8px 10px"},
        )
    return html.Div()


def create_app(
    db: Database[data.Document],
    refresh_ms: int | None = None,
    settings: DashSettings | None = None,
) -> Dash:
    """The app on ``db``; ``refresh_ms`` (tests) overrides the settings' refresh."""
    settings = settings or DashSettings()
    refresh_ms = settings.refresh_ms if refresh_ms is None else refresh_ms
    app = Dash(__name__, title="joulestream", suppress_callback_exceptions=True)
    # Dash's page with its language declared (screen readers pick their voice by it).
    app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)
    app.layout = lambda: layout(refresh_ms)

    @app.callback(
        Output("page", "children"),
        Output("url-written", "data"),
        Input("url", "pathname"),
        Input("url", "search"),
        State("url-written", "data"),
    )
    def route(
        pathname: str | None, search: str | None, written: str | None
    ) -> tuple[html.Div, str]:
        # The page's own write-back: its controls already show this query; building the page
        # again would only reset the focus and flash.
        if set(ctx.triggered_prop_ids) == {"url.search"} and (search or "") == (written or ""):
            raise PreventUpdate
        return page(pathname, search), search or ""

    # The switch, the stored choice and the provider's scheme: the choice sets the switch when
    # the page loads, the switch sets the choice and the scheme.
    @app.callback(
        Output("theme-dark", "checked"),
        Input("theme-choice", "modified_timestamp"),
        State("theme-choice", "data"),
    )
    def restore_theme(_at: int | None, stored: object) -> bool:
        return stored == "dark"

    @app.callback(
        Output("theme-provider", "forceColorScheme"),
        Output("theme-choice", "data"),
        Input("theme-dark", "checked"),
        State("theme-choice", "data"),
        prevent_initial_call=True,
    )
    def switch_theme(dark: object, stored: object) -> tuple[str, object]:
        chosen = theme.scheme(dark)
        # Writing the same choice again would set the switch again, and so on.
        return chosen, (no_update if stored == chosen else chosen)

    @app.callback(Output("banner", "children"), Input("refresh", "n_intervals"))
    def refresh_banner(_n: int | None) -> html.Div:
        return banner(db)

    for module in PAGES.values():
        module.register(app, db, settings)
    headers.install(app)
    return app


def client(uri: str, username: str = "", password: str = "") -> MongoClient[data.Document]:
    """A client whose failures come back within seconds, so a page never hangs on a dead server.
    Credentials come apart from the URI (a URI is easily logged); none: no login."""
    if username:
        return MongoClient(
            uri, serverSelectionTimeoutMS=2000, tz_aware=True, username=username, password=password
        )
    return MongoClient(uri, serverSelectionTimeoutMS=2000, tz_aware=True)


def app_from_env() -> Dash:
    """The app as the environment configures it (``settings.from_env``): on the database
    ``MONGODB_URI`` and ``MONGODB_DATABASE`` name, logged in as ``MONGODB_USERNAME`` with
    ``MONGODB_PASSWORD`` when they are set."""
    s = settings_from_env()
    db = client(s.mongodb_uri, s.mongodb_username, s.mongodb_password)[s.mongodb_database]
    return create_app(db, settings=s)
