# closedloop: `make up` starts the whole stack, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install up demo demo-stores demo-intake status test test-integration test-faults bench replay clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

up: $(STAMP)          ## NATS + PostgreSQL (embedded unless NATS_URL / DATABASE_URL) + four services + console
	$(VENV)/bin/closedloop up

demo: $(STAMP)        ## the NPS story, against the running stack or one started for it
	$(VENV)/bin/closedloop demo

demo-stores: $(STAMP) ## a red alert on 深圳宝安店: who is told, when and why (clocks moved, not slept)
	$(VENV)/bin/closedloop demo --story stores

demo-intake: $(STAMP) ## a customer's call: classified, paused for her receipt, closed by hand
	$(VENV)/bin/closedloop demo --story intake

status: $(STAMP)
	$(VENV)/bin/closedloop status

test: $(STAMP)        ## the whole suite against real NATS and PostgreSQL
	@infra/system-packages.sh
	$(PY) -m pytest

test-integration: $(STAMP)
	$(PY) -m pytest tests/integration

test-faults: $(STAMP) ## kill and restart each part under load (~10 min; not part of `make test`)
	$(PY) -m pytest -m faults tests/faults

bench: $(STAMP)       ## print throughput and latency figures (never asserted)
	$(PY) -m tests.bench.run_all

clean:
	rm -rf $(VENV) .pytest_cache
