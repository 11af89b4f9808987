# joulestream: `make demo` runs the whole pipeline locally, `make test` checks it.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: help install typeview docs up status down demo lint unit java-test wheel-check chromium integration docker-engine integration-containers test test-frameworks clean

help:
	@echo "make demo    start Kafka, MongoDB (FerretDB), Flink, the job, a simulated fleet and the dashboard"
	@echo "make up      start the services and the Flink job (no fleet); make status / make down"
	@echo "make test    lint, type-check, unit tests, the wheel check and the integration suite on real services"
	@echo "make integration-containers  the same suite on a private Docker engine, services from testcontainers (root, Linux)"
	@echo "make wheel-check  build the wheel, install it alone on Python 3.10, 3.12 and 3.13, run a tracker offline"
	@echo "make test-frameworks  the callbacks with real Lightning and Transformers (opt-in, emitter/README.md)"

# The virtual environment, rebuilt when the pinned dependencies change: the project (the package
# joulestream, editable) with the server side's extras and the tools, at the pins of the lock.
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found: install Python 3.11 (Debian: apt-get install python3.11-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[job,dashboard,stack,dev]'
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

# mypy reads emitter/, schemas/, flink_jobs/ and dash_app/ as the package joulestream through
# links (stack/typeview.py); the trainer's part is checked for Python 3.10 as well.
TRAINER_TYPES := build/typecheck/joulestream/*.py build/typecheck/joulestream/meters \
	build/typecheck/joulestream/callbacks build/typecheck/joulestream/grid \
	build/typecheck/joulestream/schemas

typeview: $(STAMP)
	$(PY) -m stack.typeview

# docs/documents.md's field tables and indexes, from the contract (schemas/documents.py).
docs: $(STAMP)
	$(PY) -m joulestream.schemas.documents docs/documents.md

lint: typeview
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m mypy --python-version 3.10 $(TRAINER_TYPES)

unit: $(STAMP)
	$(PY) -m pytest -m "not integration and not frameworks" tests

# The callbacks with real Lightning and Transformers on torch (several GB, not in the lock): an
# environment of its own, FRAMEWORKS_VENV, with the project and those installed (README).
FRAMEWORKS_VENV ?= .venv-frameworks
test-frameworks:
	$(FRAMEWORKS_VENV)/bin/python -m pytest -m frameworks tests/test_callbacks_frameworks.py

# The job's Java (flink_jobs/java): compiled with -Xlint:all -Werror and its JUnit tests run.
java-test:
	cd flink_jobs/java && mvn -B -q test

# The browser tests drive Debian's Chromium; installed here when missing (CI runs as root).
chromium:
	@test -x /usr/bin/chromium || { echo "installing chromium for the dashboard's browser tests"; \
	  (apt-get update && apt-get install -y --no-install-recommends chromium) \
	  || { echo "error: /usr/bin/chromium is missing and could not be installed: run apt-get install chromium as root"; exit 1; }; }

# The trainer-side install, as a user gets it (stack/wheelcheck.py).
wheel-check: $(STAMP)
	$(PY) -m stack.wheelcheck

# axe-core for the dashboard's accessibility test, from the npm registry, kept under .joulestream/.
AXE_VERSION := 4.14.1
AXE := .joulestream/npm/axe-core-$(AXE_VERSION).min.js
$(AXE):
	@mkdir -p .joulestream/npm
	@cd .joulestream/npm && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && tar -xzf axe-core-$(AXE_VERSION).tgz package/axe.min.js \
	  && mv package/axe.min.js axe-core-$(AXE_VERSION).min.js && rm -rf package axe-core-$(AXE_VERSION).tgz \
	  || echo "warning: axe-core could not be fetched (npm); the accessibility test will be skipped"

integration: $(STAMP) chromium $(AXE)
	$(PY) -m pytest -m integration tests/integration

# The suite again with Kafka and MongoDB from testcontainers, on a Docker engine of its own under
# ~/.cache/joulestream/docker (stack/dockerd.py), with images built here when no registry serves them
# (stack/imagebuild.py). Docker's engine and debootstrap are installed when missing (CI runs as
# root); when no engine can start, the container path is skipped with the reason printed.
docker-engine:
	@command -v dockerd >/dev/null && command -v debootstrap >/dev/null || { \
	  echo "installing docker.io and debootstrap for the container path of the integration suite"; \
	  (apt-get update && apt-get install -y --no-install-recommends docker.io debootstrap) \
	  || echo "warning: docker.io/debootstrap could not be installed (apt-get install docker.io debootstrap as root)"; }

integration-containers: $(STAMP) chromium $(AXE) docker-engine
	$(PY) -m stack.containers

# make test runs the container path too where dockerd can run: as root, on Linux.
CONTAINERS := $(if $(and $(filter Linux,$(shell uname -s)),$(filter 0,$(shell id -u))),integration-containers)

test: lint unit java-test wheel-check integration $(CONTAINERS)

clean: down
	rm -rf .joulestream
