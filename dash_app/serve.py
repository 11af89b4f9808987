"""How the dashboard is served: gunicorn, in the image, on Kubernetes and in ``make demo``.

``command(host, port)`` is the one definition of the command line; the image's ``CMD`` is
``command("0.0.0.0", 8050)`` (a unit test holds them together). Two worker processes of four
threads each: a page's refresh sends several callbacks at once, and each waits on MongoDB
rather than on the CPU; two processes of this app stay well inside the pod's 512 Mi. With
threads gunicorn uses its ``gthread`` worker, whose timeout watches the worker process, not a
request: a slow query (minutes, on an unpatched FerretDB) does not get its worker killed.
``python -m dash_app`` runs the same command, bound to ``DASH_HOST`` (loopback by default: a
container sets 0.0.0.0 to be reachable through a Service) and ``DASH_PORT``.
"""

import os
import sys

from gunicorn.app import wsgiapp  # type: ignore[import-untyped]  # gunicorn ships no types

WORKERS = 2
THREADS = 4
APP = "joulestream.dash_app.wsgi:server"


def command(host: str, port: int) -> list[str]:
    """The gunicorn command line that serves the dashboard on ``host:port``."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [
        "gunicorn",
        "--bind",
        bind,
        "--workers",
        str(WORKERS),
        "--threads",
        str(THREADS),
        # gunicorn 27 opens a management socket in ~/.gunicorn by default: nothing here uses
        # it, two servers on one machine would share its path, and a container's user has no
        # home to write it to.
        "--no-control-socket",
        APP,
    ]


class _Dashboard(wsgiapp.WSGIApplication):  # type: ignore[misc]  # an untyped base class
    """gunicorn's command-line application, loading ``APP`` by an import statement rather than
    by its name: the same object, and the import says what this program runs."""

    def load_wsgiapp(self) -> object:
        # In each worker, after the fork: each has its own MongoDB client.
        from joulestream.dash_app.wsgi import server

        return server


def main() -> None:
    """Serve the dashboard as ``command`` says, in this process (gunicorn's own entry point)."""
    host = os.environ.get("DASH_HOST", "127.0.0.1")
    port = int(os.environ.get("DASH_PORT", "8050"))
    sys.argv = command(host, port)
    _Dashboard("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").run()
