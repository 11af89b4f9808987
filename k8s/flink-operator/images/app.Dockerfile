# The dashboard and the simulated fleet: one small image for the two Python programs that do
# not need Flink. Build from the repository root:
#   docker build -f k8s/flink-operator/images/app.Dockerfile -t joulestream-app:0.1.0 .
FROM python:3.11-slim-bookworm
COPY requirements.lock /tmp/requirements.lock
# The project, installed as the package joulestream (pyproject.toml maps the folders onto it, so
# every mapped folder is copied for the build) with its `dashboard` extra: the fleet's
# dependencies are the package's own, the dashboard's the extra's (dash, plotly, pymongo,
# gunicorn); apache-flink stays out. Every version at the pin of requirements.lock.
COPY pyproject.toml /src/pyproject.toml
COPY README.md /src/README.md
COPY emitter /src/emitter
COPY schemas /src/schemas
COPY flink_jobs /src/flink_jobs
COPY dash_app /src/dash_app
RUN pip install --no-cache-dir -c /tmp/requirements.lock '/src[dashboard]' \
 && rm -rf /src
WORKDIR /app
RUN useradd --system --uid 10001 joulestream
USER 10001
ENV PYTHONUNBUFFERED=1
EXPOSE 8050
# The dashboard under gunicorn (joulestream.dash_app.serve's command("0.0.0.0", 8050)); the
# fleet's Job names its own command.
CMD ["gunicorn", "--bind", "0.0.0.0:8050", "--workers", "2", "--threads", "4", \
     "--no-control-socket", "joulestream.dash_app.wsgi:server"]
