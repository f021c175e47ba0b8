# Everything a newcomer needs, from nothing: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LOCK := layers/mojang_chat/requirements.txt
# Everything the tests and tools use, pinned (the layer's pins included): `make lock` re-pins.
DEV_LOCK := requirements-dev.txt
# aws-sam-cli pins its own boto3 and friends: it lives in a venv of its own.
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv demo demo-offline browser ask test lint typecheck unit test-all lock sam-tools build deploy sam-local validate clean bench fuzz

help:
	@echo "make demo   run the app locally on http://127.0.0.1:3000 (no AWS account, no Docker)"
	@echo "make demo-offline   the same on the embedded stand-ins, even with a model configured"
	@echo "make test   lint, type-check and run every test, with coverage"
	@echo "make unit   the unit tests alone (seconds)"
	@echo "make fuzz   a long schema-fuzzing run of every route (FUZZ_EXAMPLES=500 per operation and mode)"
	@echo "make bench  the project against its peers on the stand-ins: docs/performance.md (QUICK=1: smoke run)"
	@echo "make build  sam build (the layer is built for arm64 without Docker)"
	@echo "make deploy sam build + sam deploy (guided the first time; GUIDED=1 asks again)"
	@echo "make sam-local ARGS=\"invoke ChatFunction -e events/chat-tutorial.json\"  sam local (Docker)"
	@echo "make lock   re-pin the layer's requirements and the dev lock (requirements-dev.txt)"

$(VENV)/.installed: pyproject.toml $(LOCK) $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The dev lock holds the layer's own pins, so the tests run on the very versions it ships.
	$(PY) -m pip install -q -r $(DEV_LOCK)
	$(PY) -m pip install -q --no-deps -e .
	touch $@

venv: $(VENV)/.installed

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==1.170.0
	touch $@

sam-tools: $(SAM_VENV)/.installed

# The model comes from OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_MODEL, in the environment or
# in .env (read by the command itself). Without one, the demo runs on the stand-ins the package
# ships (a scripted model and sample Mojang players, mojang_chat/local/standins) and the page
# says what to set.
HOST ?= 127.0.0.1
PORT ?= 3000

demo: venv
	$(PY) -m mojang_chat demo --host $(HOST) --port $(PORT)

# make ask Q="what is the id of the player username merrydith"
ask: venv
	$(PY) -m mojang_chat ask "$(Q)"

demo-offline: venv
	$(PY) -m mojang_chat demo --offline --host $(HOST) --port $(PORT)

# The browser test drives Debian's chromium: installed here when missing and possible (root
# with apt-get, as in CI); elsewhere the browser tests say they were skipped and why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium is not installed: the browser tests will be skipped"; \
	  fi; }

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: venv
	$(PY) -m mypy

# Every test (unit, integration, e2e), with the package's coverage measured and held to a floor.
test-all: venv sam-tools browser
	SAM_CLI=$(abspath $(SAM)) $(PY) -m pytest --cov --cov-report=term

test: lint typecheck test-all

# The pure logic alone, in seconds: no servers, no AWS, no browser.
unit: venv
	$(PY) -m pytest -q tests/unit

# The schema fuzzing that `make test` runs with 25 examples per operation and mode, at length;
# the counts land in test-artifacts/fuzz.json.
FUZZ_EXAMPLES ?= 500
fuzz: venv
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -s --timeout=3600 \
		tests/e2e/test_fuzz.py tests/unit/test_properties.py

lock: venv
	$(VENV)/bin/uv pip compile --universal --python-version 3.11 --no-header \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer \
		--no-emit-package jmespath --no-emit-package python-dateutil --no-emit-package six \
		layers/mojang_chat/requirements.in -o $(LOCK)
	$(VENV)/bin/uv pip compile --universal --python-version 3.11 --no-header \
		pyproject.toml --extra dev -c $(LOCK) -o $(DEV_LOCK)

validate: sam-tools
	$(SAM) validate --lint --region us-east-1

build: sam-tools
	$(SAM) build

# Guided the first time (sam asks for the parameters and saves its answers in samconfig.toml),
# then with the saved answers; GUIDED=1 asks again.
SAMCONFIG ?= samconfig.toml
deploy: build
	@if [ -n "$(GUIDED)" ] || ! grep -q '^parameter_overrides' $(SAMCONFIG); then \
	  $(SAM) deploy --guided --config-file $(SAMCONFIG); \
	else \
	  $(SAM) deploy --config-file $(SAMCONFIG); \
	fi

# `sam local` with this checkout's SAM CLI (it needs Docker; `python -m mojang_chat invoke`
# and `make demo` do not): make sam-local ARGS="invoke ChatFunction -e events/chat-tutorial.json"
sam-local: build
	$(SAM) local $(or $(ARGS),start-api)

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage

# The project side by side with the frameworks users would pick instead, against the stand-ins
# (benchmarks/run.py): prints the tables, writes benchmarks/results/latest.json (written up in
# docs/performance.md). `make bench QUICK=1` is a smoke run that judges nothing.
bench: venv
	PYTHONPATH=. $(PY) -m benchmarks.run $(if $(QUICK),--quick)
