# The two commands of the README: `make demo` and `make test`. Both create their own
# virtualenv, install what is missing (Debian packages where they can) and stop what
# they start.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint bench venv clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	scripts/system-deps.sh redis
	$(PY) -m tests.demo

test: $(STAMP)
	scripts/system-deps.sh redis chromium postgres
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

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
	-$(PY) -m bench.scale

clean:
	rm -rf $(VENV) build dist *.egg-info .demo .pytest_cache .ruff_cache
