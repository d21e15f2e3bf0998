# Pixtract: `make up` runs the whole system, `make test` runs every suite.
# Both do all set-up first (virtualenv, pinned packages, generated code checks).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SERVICES := common auth upload tagging ocr search
EDITABLES := $(foreach s,$(SERVICES),-e services/$(s)) -e deploy/local
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install up down status test test-unit test-contract test-integration test-e2e lint format proto proto-check constraints helm-test bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): requirements/constraints.txt requirements/dev.txt $(foreach s,$(SERVICES),services/$(s)/pyproject.toml) deploy/local/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c requirements/constraints.txt -r requirements/dev.txt $(EDITABLES)
	touch $(STAMP)

install: $(STAMP)  ## create .venv with every pinned package and the services installed editable

up: install  ## start the whole system in the foreground (Ctrl-C stops it)
	$(PY) -m pixtract.localstack up

down: install  ## stop a running `make up`
	$(PY) -m pixtract.localstack down

status: install  ## show what the local stack runs
	$(PY) -m pixtract.localstack status

test: install  ## unit, contract, integration and e2e suites against the lite stack
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-contract: install
	$(PY) -m pytest tests/contract $(PYTEST_ARGS)

test-integration: install
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: install
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

lint: install  ## ruff and mypy (strict) over the whole tree
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services deploy/local/src tests bench proto/generate.py

format: install  ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

proto: install  ## regenerate pixtract.events from proto/ (protobuf code and the topic registry)
	$(PY) proto/generate.py

proto-check: install  ## fail if the committed generated code drifted from proto/
	$(PY) proto/generate.py --check

constraints:  ## re-pin requirements/constraints.txt from the current .venv
	{ sed -n '1,2p' requirements/constraints.txt; $(PIP) freeze --exclude-editable | grep -v '^pixtract' | sort -f; } > requirements/constraints.txt.new
	mv requirements/constraints.txt.new requirements/constraints.txt

bench: install  ## run the benchmarks and print their figures
	$(PY) -m bench

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache
