# Everything a newcomer needs, from nothing: `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LOCK := layers/mojang_chat/requirements.txt
# aws-sam-cli pins its own boto3 and friends: it lives in a venv of its own.
SAM_VENV ?= .venv-sam
SAM := $(SAM_VENV)/bin/sam
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv demo ask test lint typecheck unit lock sam-tools build validate clean

help:
	@echo "make demo   run the app locally (no AWS account, no Docker)"
	@echo "make test   lint, type-check and run every test"
	@echo "make build  sam build (the layer is built for arm64 without Docker)"
	@echo "make lock   re-pin the layer's requirements"

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The layer's lock first, so the tests run on the very versions the layer ships.
	$(PY) -m pip install -q -r $(LOCK) -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q aws-sam-cli==1.170.0
	touch $@

sam-tools: $(SAM_VENV)/.installed

demo: venv
	$(PY) -m mojang_chat demo

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: venv
	$(PY) -m mypy

unit: venv sam-tools
	SAM_CLI=$(abspath $(SAM)) $(PY) -m pytest

test: lint typecheck unit

lock: venv
	$(VENV)/bin/uv pip compile --universal --python-version 3.11 --no-header \
		--no-emit-package boto3 --no-emit-package botocore --no-emit-package s3transfer \
		--no-emit-package jmespath --no-emit-package python-dateutil --no-emit-package six \
		layers/mojang_chat/requirements.in -o $(LOCK)

validate: sam-tools
	$(SAM) validate --lint --region us-east-1

build: sam-tools
	$(SAM) build

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
