# The two commands of the README: `make demo` and `make test`. Both create their own
# virtualenv, install what is missing (Debian packages where they can) and stop what
# they start.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

LOWEST_VENV ?= .venv-lowest
LOWEST_STAMP := $(LOWEST_VENV)/.installed-stamp
# The lowest-versions run (`make test-lowest`, in CI after `make test`): every runtime
# dependency at its pyproject.toml floor (constraints-lowest.txt). A subset, to keep CI well
# inside its time: together these modules exercise every dependency through the code that
# uses it: cryptography, SQLAlchemy, Alembic and click (crypto: keys, rotation, migrations),
# rq's Result.create (carrier), rq-scheduler (jobs), limits and redis (rate limits),
# Authlib, requests, urllib3, Flask-WTF and Flask-Login (connect, tokens, against the
# sandbox), pluggy (the host's plugins), msgspec (Trakt ratings), numpy and scipy (the
# discovery model), Flask, Werkzeug and Jinja2 (all of them).
LOWEST_TESTS ?= tests/contract/test_dependency_floors.py tests/integration/test_crypto.py \
	tests/integration/test_sync_carrier.py tests/integration/test_sync_jobs.py \
	tests/integration/test_rate_limits.py tests/integration/test_connect.py \
	tests/integration/test_tokens.py tests/harness/test_demo_host_plugins.py \
	tests/integration/test_trakt_ratings.py tests/unit/test_model_build.py

.PHONY: demo test test-unit lint bench venv clean constraints test-lowest audit

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

$(LOWEST_STAMP): pyproject.toml constraints-lowest.txt
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(LOWEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-c constraints-lowest.txt -e '.[test]'
	touch $(LOWEST_STAMP)

demo: $(STAMP)
	scripts/system-deps.sh redis
	$(PY) -m harness.demo

test: $(STAMP)
	scripts/system-deps.sh redis chromium postgres mariadb
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) scripts/lowest_constraints.py --check
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The unit tier alone, with only the virtualenv's programs on the PATH: no Redis,
# database server, sandbox or browser can start, so a unit test that needs one fails.
test-unit: $(STAMP)
	env PATH="$(abspath $(VENV))/bin" $(PY) -m pytest -q -p no:cacheprovider tests/unit

# After changing a floor in pyproject.toml.
constraints:
	$(PYTHON) scripts/lowest_constraints.py

test-lowest: $(LOWEST_STAMP)
	scripts/system-deps.sh redis postgres mariadb
	$(LOWEST_VENV)/bin/python scripts/lowest_constraints.py --check
	$(LOWEST_VENV)/bin/python -m pip check
	$(LOWEST_VENV)/bin/python -m pytest -q $(LOWEST_TESTS)

# Advisory audit of the test virtualenv; says plainly when the advisory data is out of reach.
audit: $(STAMP)
	PYTHON=$(PYTHON) scripts/audit.sh $(VENV)

# Every benchmark runs and prints its figures; a missed aim is reported (exit status
# ignored with "-") so the others still run. Figures and aims: bench/README.md.
bench: $(STAMP)
	scripts/system-deps.sh redis postgres
	-$(PY) -m bench.sandbox_throughput
	-$(PY) -m bench.push_latency
	-$(PY) -m bench.sync_merge
	-$(PY) -m bench.fleet
	-$(PY) -m bench.discovery_recall --seeds 10
	-$(PY) -m bench.discovery_page
	-$(PY) -m bench.model_build
	-$(PY) -m bench.import_time
	-$(PY) -m bench.scale

clean:
	rm -rf $(VENV) $(LOWEST_VENV) .venv-audit build dist *.egg-info .demo .pytest_cache .ruff_cache
