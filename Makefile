# Two commands on a fresh machine: `make up` (the local stack) and `make test` (every test).
# The Lambda runtime's Python version is set once, in .python-version.
PYTHON_VERSION := $(shell cat .python-version)
PYTHON ?= python$(PYTHON_VERSION)
VENV := .venv
BIN := $(VENV)/bin
STRIPE_MOCK_VERSION ?= v0.197.0
export AIRWAVES_CACHE ?= $(HOME)/.cache/airwaves

.PHONY: up test lint bench install servers livekit-server stripe-mock redis-server clean template

$(VENV)/.installed: requirements-dev.txt functions/requirements.txt pyproject.toml .python-version
	@command -v $(PYTHON) >/dev/null || { echo "Python $(PYTHON_VERSION) is needed"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -e .
	@touch $@

install: $(VENV)/.installed

livekit-server:
	@bash livekit/build.sh >/dev/null

stripe-mock:
	@bash infra/local/build_go_server.sh stripe-mock github.com/stripe/stripe-mock $(STRIPE_MOCK_VERSION) >/dev/null

redis-server:
	@bash infra/local/install_redis.sh

servers: livekit-server stripe-mock redis-server

up: install servers
	$(BIN)/python -m infra.local.stack

# Lint and type checks first (seconds), then every test tier.
test: lint servers
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install servers
	$(BIN)/python -m bench.run

# Regenerate template.yaml and infra/livekit-cluster.yaml from the Chalice app and configs.
template: install
	$(BIN)/python -m infra.build_template

clean:
	rm -rf $(VENV) .pytest_cache
