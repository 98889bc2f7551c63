# The two Quick-start commands (`make demo`, `make test`) and the steps they are made of.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The local settings file `make demo` writes (DEBUG and a generated secret); the settings read it, so
# manage.py works from the repo root afterwards. The real environment wins over it.
ENV_FILE ?= .env
# Where the demo keeps its data and the worker's log (the settings' DATA_DIR: MUSICBUD_DATA_DIR, else .data).
DEMO_DATA := $(or $(MUSICBUD_DATA_DIR),.data)
# The embedded defaults: no service variables leak in from the caller's shell.
EMBEDDED := env -u DATABASE_URL -u REDIS_URL -u NEO4J_URI -u NEO4J_USER -u NEO4J_PASSWORD \
	RECOMMENDATIONS_SOURCE=database TASKS_BACKEND=database DEBUG=true MUSICBUD_ENV_FILE=$(abspath $(ENV_FILE))

.PHONY: install demo test lint services-up services-down bench

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip==25.2"
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -c 'import lightfm, sys; assert "lightfm._lightfm_fast_openmp" in sys.modules, "LightFM built without OpenMP"'
	touch $(STAMP)

install: $(STAMP)

# Written once and kept: a new secret on every run would invalidate every token issued before.
$(ENV_FILE):
	umask 077 && printf 'DEBUG=true\nSECRET_KEY=%s\n' "$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(48))')" >$@.tmp
	mv $@.tmp $@
	@echo "wrote $@ (DEBUG=true and a generated SECRET_KEY; git-ignored)"

# The worker (trainings, the outbox's drains) runs beside the server, its log in the data folder (so the terminal
# ends with the "try it" block), and is stopped with the server however the server stops.
demo: install $(ENV_FILE)
	$(EMBEDDED) $(PY) manage.py migrate --no-input -v0
	# Users, sample data, models and four weeks of feedback through the event writer (which takes events that
	# old only here); the details go to .data/demo-setup.log and the "try it" block is printed last.
	$(EMBEDDED) EVENTS_MAX_AGE_DAYS=28 $(PY) manage.py demo_setup --base-url http://$(HOST):$(PORT)
	@mkdir -p $(DEMO_DATA)
	@$(EMBEDDED) scripts/worker.sh >>$(DEMO_DATA)/worker.log 2>&1 & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(EMBEDDED) scripts/serve.sh $(HOST) $(PORT) 1

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy .

services-up:
	scripts/services.sh up

services-down:
	scripts/services.sh down

# Everything against the real services: PostgreSQL, Redis and Neo4j from scripts/services.sh.
test: install lint services-up
	scripts/install_chromium.sh
	set -a && source .services/services.env && set +a && \
	MUSICBUD_REQUIRE_SERVICES=1 $(VENV)/bin/pytest $(PYTEST_ARGS)
