"""What the dashboard's web server refuses and what every response tells the browser.

- A request body over ``MAX_REQUEST_BYTES`` is answered 413 before it is read: a callback's
  request is a few kilobytes (inputs and states, never a table's data), and an unbounded one
  was read whole into memory (24 MB cost 690 MB, past the pod's 512 Mi).
- ``Content-Security-Policy``: scripts only from this server, plus the one inline script Dash
  writes into its page (``new DashRenderer(…)``), allowed by its hash (``Dash.csp_hashes``), not
  by ``'unsafe-inline'``; no ``eval``. Styles keep ``'unsafe-inline'``: Plotly and the Dash
  components insert ``<style>`` elements and style attributes at run time, and a style cannot
  run code. Images from this server and ``data:`` (Plotly's icons and exported PNGs). No
  plugins, no ``<base>``, forms only to this server, and no framing (``frame-ancestors``).
- ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (a run's address does
  not leave with a link) and ``Cross-Origin-Opener-Policy: same-origin``.
"""

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from dash import Dash

MAX_REQUEST_BYTES = 1_000_000


class _Headers(Protocol):
    def update(self, headers: Mapping[str, str], /) -> None: ...


class _Response(Protocol):
    # Flask's response, described rather than imported: the dashboard depends on Dash, and
    # Flask comes with it at Dash's version.
    @property
    def headers(self) -> _Headers: ...


ResponseT = TypeVar("ResponseT", bound=_Response)


def content_security_policy(script_hashes: Sequence[str]) -> str:
    """The policy, with Dash's inline scripts allowed by their hashes (``'sha256-…'``)."""
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def security_headers(script_hashes: Sequence[str]) -> dict[str, str]:
    """The headers every response carries."""
    return {
        "Content-Security-Policy": content_security_policy(script_hashes),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def install(app: Dash) -> None:
    """The request limit and the headers on ``app``'s server. Call it once every callback is
    registered: the hashes cover the inline scripts known then (a clientside callback adds one)."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    headers = security_headers(app.csp_hashes())

    def add_headers(response: ResponseT) -> ResponseT:
        response.headers.update(headers)
        return response

    # Flask runs it for every response, errors (404, 413, 500) included.
    server.after_request(add_headers)
