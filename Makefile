# joulestream: `make demo` runs the whole pipeline locally, `make test` checks it.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help install up status down demo lint unit java-test chromium integration test clean

help:
	@echo "make demo    start Kafka, MongoDB (FerretDB), Flink, the job, a simulated fleet and the dashboard"
	@echo "make up      start the services and the Flink job (no fleet); make status / make down"
	@echo "make test    lint, type-check, unit tests and the integration suite on real services"

# The virtual environment, rebuilt when the pinned dependencies change.
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11 (Debian: apt-get install python3.11-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

install: $(STAMP)

up: $(STAMP)
	$(PY) -m stack up

status: $(STAMP)
	$(PY) -m stack status

down: $(STAMP)
	$(PY) -m stack down

demo: $(STAMP)
	$(PY) -m stack demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest -m "not integration" tests

# The job's Java (flink_jobs/java): compiled with -Xlint:all -Werror and its JUnit tests run.
java-test:
	cd flink_jobs/java && mvn -B -q test

# The browser tests drive Debian's Chromium; installed here when missing (CI runs as root).
chromium:
	@test -x /usr/bin/chromium || { echo "installing chromium for the dashboard's browser tests"; \
	  (apt-get update && apt-get install -y --no-install-recommends chromium) \
	  || { echo "error: /usr/bin/chromium is missing and could not be installed: run apt-get install chromium as root"; exit 1; }; }

integration: $(STAMP) chromium
	$(PY) -m pytest -m integration tests/integration

test: lint unit java-test integration

clean: down
	rm -rf .joulestream
