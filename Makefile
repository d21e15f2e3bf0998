# Pixtract: `make up` runs the whole system, `make test` runs every suite.
# Both do all set-up first (virtualenv, pinned packages, generated code checks).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
SERVICES := common auth upload tagging ocr search
EDITABLES := $(foreach s,$(SERVICES),-e services/$(s)) -e deploy/local -e clients/cli
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The web gallery (services/web): Vue + Vite, built with the machine's Node.js and npm.
NPM ?= npm
WEB := services/web
WEB_DEPS := $(WEB)/node_modules/.installed
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) $(WEB)/index.html $(WEB)/vite.config.ts $(wildcard $(WEB)/tsconfig*.json)
CHROMIUM ?= /usr/bin/chromium

.PHONY: help install up down status test test-unit test-contract test-integration test-e2e lint format proto proto-check constraints helm-test bench soak models clean web test-web lint-web test-browser chromium

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): requirements/constraints.txt requirements/dev.txt $(foreach s,$(SERVICES),services/$(s)/pyproject.toml) deploy/local/pyproject.toml clients/cli/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c requirements/constraints.txt -r requirements/dev.txt $(EDITABLES)
	touch $(STAMP)

install: $(STAMP)  ## create .venv with every pinned package and the services installed editable

up: install web  ## start the whole system in the foreground (Ctrl-C stops it)
	$(PY) -m pixtract.localstack up

down: install  ## stop a running `make up`
	$(PY) -m pixtract.localstack down

status: install  ## show what the local stack runs
	$(PY) -m pixtract.localstack status

test: install web chromium test-web  ## the gallery's Vitest suite, then unit, contract, integration, e2e and browser suites
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-contract: install
	$(PY) -m pytest tests/contract $(PYTEST_ARGS)

test-integration: install
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: install
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

helm-test: install  ## lint and render the chart over its values matrix, validate the manifests, check policy, Dockerfiles, skaffold
	$(PY) -m pytest tests/unit/chart $(PYTEST_ARGS)

$(WEB_DEPS): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && $(NPM) ci --no-audit --no-fund
	touch $@

# vite empties dist/ and writes it anew, so the time of index.html says when the build ran.
$(WEB)/dist/index.html: $(WEB_DEPS) $(WEB_SOURCES)
	cd $(WEB) && $(NPM) run build

web: $(WEB)/dist/index.html  ## build the web gallery into services/web/dist (type check + vite build; skipped when up to date)

test-web: $(WEB_DEPS)  ## the web gallery's Vitest suite (API client, token refresh, highlights, months, uploads, components)
	cd $(WEB) && $(NPM) test

lint-web: $(WEB_DEPS)  ## the web gallery: strict type check of app and tests (vue-tsc), Prettier formatting
	cd $(WEB) && $(NPM) run typecheck && $(NPM) run format:check

chromium:  ## Debian's Chromium for the browser tests: installed only when missing, and only as root
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "no Chromium at $(CHROMIUM) and not root: the browser tests will be skipped (apt-get install chromium)"; fi

test-browser: install web chromium  ## the web gallery in headless Chromium against the whole system
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

lint: install lint-web  ## ruff and mypy (strict) over the whole tree, and the web gallery's type check and formatting
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy services deploy/local/src clients/cli/src tests bench proto/generate.py

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

models: install  ## rebuild the tagging models (EfficientNet-Lite0 ONNX + sha256, ImageNet/WordNet hierarchy); needs torch, so build-time only
	$(PIP) install --quiet --disable-pip-version-check -c requirements/constraints.txt -r requirements/models.txt
	test -f /usr/share/wordnet/data.noun || { apt-get update -qq && apt-get install -y -qq wordnet-base; }
	$(PY) services/tagging/models/generate_hierarchy.py
	$(PY) services/tagging/models/export_model.py

bench: install  ## run every benchmark (upload, tagging, ocr, search, ingest); figures also in bench/results/latest.md
	$(PY) -m bench $(BENCH_ARGS)

soak: install  ## 15 minutes of mixed traffic on a fresh stack, memory of every process sampled (make test runs 2 minutes of it)
	PIXTRACT_SOAK_SECONDS=$${PIXTRACT_SOAK_SECONDS:-900} $(PY) -m pytest tests/e2e/test_soak.py -s $(PYTEST_ARGS)

clean:  ## remove the virtualenv and local data
	rm -rf $(VENV) .data .mypy_cache .ruff_cache .pytest_cache test-artifacts $(WEB)/node_modules $(WEB)/dist
