"""The dashboard's web server, through Flask's test client: security headers on every response,
a policy that allows exactly Dash's inline script, 413 for a large request, a hand-made callback
refused with its message before any query, the pages' shared export callback, and the gunicorn
command of the image."""

import base64
import hashlib
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from dash import Dash, State, dcc, html

from joulestream.dash_app import app as dash_app
from joulestream.dash_app import checks, headers, serve
from joulestream.dash_app.pages import common
from tests.test_dash_checks import OBJECT, no_database

DOCKERFILE = Path(__file__).resolve().parents[1] / "k8s/flink-operator/images/app.Dockerfile"
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.fixture
def served():
    fake, db = no_database()
    app = dash_app.create_app(db)
    return fake, app, app.server.test_client()


def callback_body(app: Any, output: str, values: dict[str, Any]) -> dict[str, Any]:
    """The JSON Dash's renderer posts for the callback whose outputs key is ``output``, with
    ``values`` (``"id.property"`` → value) for its inputs and states."""
    spec = app.callback_map[output]
    parts = output.strip(".").split("...")
    return {
        "output": output,
        "outputs": [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts],
        "inputs": [
            {**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in spec["inputs"]
        ],
        "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in spec["state"]],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]],
    }


def test_every_response_carries_the_security_headers(served):
    """The page, Dash's JSON, a script bundle and an error (405) all carry the same headers."""
    _, _, client = served
    bundle = re.findall(r'<script src="([^"]+)"', client.get("/").get_data(as_text=True))[0]
    statuses = []
    for method, path in [
        ("GET", "/runs?user=a"),
        ("GET", "/_dash-layout"),
        ("GET", "/_dash-dependencies"),
        ("GET", bundle),
        ("PUT", "/_dash-update-component"),
    ]:
        response = client.open(path, method=method)
        statuses.append(response.status_code)
        assert {name: response.headers.get(name) for name in HEADERS} == HEADERS, path
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'; ")
    assert statuses == [200, 200, 200, 200, 405]


def test_the_policy_allows_dashs_inline_script_by_its_hash_only(served):
    """script-src is this server plus the sha256 of the one inline script in the page; nothing
    inline or evaluated otherwise, and no framing."""
    _, _, client = served
    response = client.get("/")
    page = response.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", page, re.S)
    executed = [body for attributes, body in inline if "application/json" not in attributes]
    # The IE warning sits in an HTML comment: it is never run.
    executed = [body for body in executed if "Internet Explorer" not in body]
    assert executed == ["var renderer = new DashRenderer();"]
    digest = base64.b64encode(hashlib.sha256(executed[0].encode()).digest()).decode()
    assert response.headers["Content-Security-Policy"] == (
        "default-src 'self'; "
        f"script-src 'self' 'sha256-{digest}'; "
        "style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "object-src 'none'; "
        "base-uri 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


def test_a_request_over_the_limit_is_refused_with_413(served):
    """A body over 1 MB is answered 413 without being read, headers included; one just under
    the limit is read (and, not being a callback, refused as such)."""
    _, _, client = served
    assert headers.MAX_REQUEST_BYTES == 1_000_000
    too_big = b"[" + b"0," * 600_000 + b"0]"
    response = client.post("/_dash-update-component", data=too_big, content_type="application/json")
    assert response.status_code == 413
    assert response.headers["X-Frame-Options"] == "DENY"
    small = json.dumps({"output": "nothing"}).encode()
    response = client.post("/_dash-update-component", data=small, content_type="application/json")
    assert response.status_code != 413


def test_a_callback_with_an_operator_for_a_run_id_is_refused_before_any_query(served):
    """The run page's callback, posted with ``{"$ne": null}`` as the run id (the whole
    ``windows`` collection, before), answers with the message and reads nothing."""
    fake, app, client = served
    output = next(key for key in app.callback_map if key.startswith("..run-message.children"))
    body = callback_body(app, output, {"refresh.n_intervals": 1, "run-id.data": {"$ne": None}})
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    message = response.get_json()["response"]["run-message"]["children"]
    assert message["props"]["children"][0]["props"]["children"] == f"run id: {OBJECT}"
    windows = next(
        key for key in app.callback_map if key.startswith("..run-windows-message.children")
    )
    body = callback_body(
        app, windows, {"run-windows-refresh.n_intervals": 1, "run-id.data": {"$regex": ".*"}}
    )
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    message = response.get_json()["response"]["run-windows-message"]["children"]
    assert message["props"]["children"][0]["props"]["children"] == f"run id: {OBJECT}"
    assert fake.touched == []


def test_a_runs_filter_with_a_regex_object_is_refused_before_any_query(served):
    """The runs table's callback, posted with a ``$regex`` object as a filter value."""
    fake, app, client = served
    output = next(key for key in app.callback_map if key.startswith("..runs-table.data"))
    body = callback_body(app, output, {"runs-filter-user.value": {"$regex": "."}})
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    message = response.get_json()["response"]["runs-message"]["children"]
    assert message["props"]["children"][0]["props"]["children"] == (
        "user: expected a list of at most 50 texts, got an object; nothing was read for it."
    )
    assert fake.touched == []


def test_an_export_downloads_says_what_is_missing_and_refuses_bad_values():
    """``common.register_export``: the button pressed picks the format, the states reach the
    builder, ``None`` is said with the page's text, a refused value is said and downloads
    nothing."""
    app = Dash(__name__)
    app.layout = html.Div([common.export_buttons("x-export"), dcc.Store(id="x-key")])
    built: list[tuple[str, object]] = []

    def build(fmt: str, key: object) -> dict[str, Any] | None:
        built.append((fmt, key))
        if key == "bad":
            raise checks.InvalidInput("key: refused")
        return None if key == "gone" else {"content": str(key), "filename": f"x.{fmt}"}

    common.register_export(app, "x-export", [State("x-key", "data")], build, "No such x.")
    client = app.server.test_client()
    output = "..x-export-download.data...x-export-message.children.."
    answers = []
    for button, key in [("csv", "a"), ("json", "b"), ("csv", "gone"), ("json", "bad")]:
        body = callback_body(app, output, {"x-key.data": key})
        body["changedPropIds"] = [f"x-export-{button}.n_clicks"]
        response = client.post("/_dash-update-component", json=body)
        assert response.status_code == 200
        answers.append(response.get_json()["response"])
    assert built == [("csv", "a"), ("json", "b"), ("csv", "gone"), ("json", "bad")]
    assert answers == [
        {
            "x-export-download": {"data": {"content": "a", "filename": "x.csv"}},
            "x-export-message": {"children": ""},
        },
        {
            "x-export-download": {"data": {"content": "b", "filename": "x.json"}},
            "x-export-message": {"children": ""},
        },
        {"x-export-message": {"children": "No such x."}},
        {"x-export-message": {"children": "key: refused"}},
    ]


def test_a_run_export_with_an_operator_for_a_run_id_is_refused_before_any_query(served):
    """The run page's export, posted with ``{"$ne": null}`` as the run id: the message under
    its buttons, nothing read."""
    fake, app, client = served
    output = "..run-windows-export-download.data...run-windows-export-message.children.."
    body = callback_body(app, output, {"run-id.data": {"$ne": None}})
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    assert response.get_json()["response"] == {
        "run-windows-export-message": {"children": f"run id: {OBJECT}"}
    }
    assert fake.touched == []


def test_the_image_runs_the_gunicorn_command_of_serve():
    """The image's CMD is ``serve.command("0.0.0.0", 8050)``: gunicorn, two workers of four
    threads, no control socket, the WSGI app of dash_app.wsgi."""
    cmd = re.search(r"^CMD (\[.*?\])$", DOCKERFILE.read_text().replace("\\\n", ""), re.M)
    assert cmd is not None
    assert json.loads(cmd.group(1)) == serve.command("0.0.0.0", 8050)
    assert serve.command("0.0.0.0", 8050) == [
        "gunicorn", "--bind", "0.0.0.0:8050", "--workers", "2", "--threads", "4",
        "--no-control-socket", "joulestream.dash_app.wsgi:server",
    ]  # fmt: skip
    assert serve.command("::", 8050)[2] == "[::]:8050"


def test_the_wsgi_module_exposes_the_configured_flask_server(monkeypatch):
    """``dash_app.wsgi:server`` is the app on the environment's database, logged in with the
    credentials given apart from the URI, with the limit and the headers."""
    fake, db = no_database()
    asked: list[tuple[str, str, str]] = []

    def client(uri: str, username: str = "", password: str = "") -> dict[str, Any]:
        asked.append((uri, username, password))
        return {"jdb": db}

    monkeypatch.setenv("MONGODB_URI", "mongodb://mongo.example:27017/")
    monkeypatch.setenv("MONGODB_DATABASE", "jdb")
    monkeypatch.setenv("MONGODB_USERNAME", "dashboard")
    monkeypatch.setenv("MONGODB_PASSWORD", "s3cret")
    monkeypatch.setattr(dash_app, "client", client)
    monkeypatch.delitem(sys.modules, "joulestream.dash_app.wsgi", raising=False)
    wsgi = importlib.import_module("joulestream.dash_app.wsgi")
    assert asked == [("mongodb://mongo.example:27017/", "dashboard", "s3cret")]
    assert wsgi.server.config["MAX_CONTENT_LENGTH"] == 1_000_000
    assert wsgi.server.test_client().get("/").headers["X-Frame-Options"] == "DENY"
    assert fake.touched == []
