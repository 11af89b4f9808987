# The dashboard and the simulated fleet: one small image for the two Python programs that do
# not need Flink. Build from the repository root:
#   docker build -f k8s/flink-operator/images/app.Dockerfile -t joulestream-app:0.1.0 .
FROM python:3.11-slim-bookworm
COPY requirements.lock /tmp/requirements.lock
# The direct dependencies of dash_app and emitter at the pins of pyproject.toml, theirs at the
# pins of requirements.lock; apache-flink stays out.
RUN pip install --no-cache-dir -c /tmp/requirements.lock \
      confluent-kafka==2.16.1 \
      dash==4.4.1 \
      fastavro==1.13.1 \
      gunicorn==27.0.1 \
      plotly==7.1.0 \
      psutil==7.2.2 \
      pymongo==4.20.1
WORKDIR /app
# schemas: the Avro contract, and the intensity table the run page's what-if reads.
COPY schemas /app/schemas
COPY emitter /app/emitter
COPY dash_app /app/dash_app
RUN useradd --system --uid 10001 joulestream
USER 10001
ENV PYTHONPATH=/app \
    PYTHONUNBUFFERED=1
EXPOSE 8050
# The dashboard under gunicorn (dash_app/serve.py's command("0.0.0.0", 8050)); the fleet's Job
# names its own command.
CMD ["gunicorn", "--bind", "0.0.0.0:8050", "--workers", "2", "--threads", "4", \
     "--no-control-socket", "dash_app.wsgi:server"]
