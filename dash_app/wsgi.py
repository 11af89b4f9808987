"""The WSGI entry point: ``server`` is the dashboard's Flask app, configured from the environment
(``MONGODB_URI``, ``MONGODB_DATABASE``), for gunicorn::

    gunicorn --bind 0.0.0.0:8050 --workers 2 --threads 4 --no-control-socket dash_app.wsgi:server

(``serve.command``, the image's ``CMD``).

Each gunicorn worker imports this module itself (no ``--preload``), so each has its own MongoDB
client, created after the fork as pymongo requires.
"""

from joulestream.dash_app.app import app_from_env

server = app_from_env().server
