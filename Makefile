# Two commands on a fresh machine: `make up` (the local stack) and `make test` (every test).
# The Lambda runtime's Python version is set once, in .python-version.
PYTHON_VERSION := $(shell cat .python-version)
PYTHON ?= python$(PYTHON_VERSION)
VENV := .venv
BIN := $(VENV)/bin
STRIPE_MOCK_VERSION ?= v0.197.0
export AIRWAVES_CACHE ?= $(HOME)/.cache/airwaves

.PHONY: up test lint bench install servers livekit-server stripe-mock redis-server loadgen clean template worker-install test-media web web-typecheck chromium debian-tools

$(VENV)/.installed: requirements-dev.txt functions/requirements.txt pyproject.toml .python-version
	@command -v $(PYTHON) >/dev/null || { echo "Python $(PYTHON_VERSION) is needed"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt -e .
	@touch $@

install: $(VENV)/.installed

# The media worker (livekit/worker) has its own pinned venv: livekit-agents and PyAV are not the API's.
WORKER_VENV := livekit/worker/.venv
$(WORKER_VENV)/.installed: livekit/worker/requirements.txt livekit/worker/requirements-test.txt .python-version
	$(PYTHON) -m venv $(WORKER_VENV)
	$(WORKER_VENV)/bin/pip install --quiet --upgrade pip
	$(WORKER_VENV)/bin/pip install --quiet -r livekit/worker/requirements-test.txt
	@touch $@

worker-install: $(WORKER_VENV)/.installed

livekit-server:
	@bash livekit/build.sh >/dev/null

stripe-mock:
	@bash infra/local/build_go_server.sh stripe-mock github.com/stripe/stripe-mock $(STRIPE_MOCK_VERSION) >/dev/null

redis-server:
	@bash infra/local/install_redis.sh

# The Go listener load generator of bench_scale (its own module, pinned by bench/loadgen/go.sum).
loadgen:
	@cd bench/loadgen && go build -o $(AIRWAVES_CACHE)/loadgen/loadgen .

servers: livekit-server stripe-mock redis-server

# The web app (web/): npm ci from the committed lockfile, then one esbuild bundle into web/dist.
WEB_SOURCES := $(wildcard web/src/*.ts) web/index.html web/styles.css web/build.mjs web/tsconfig.json
web/node_modules/.installed: web/package-lock.json web/package.json
	@command -v npm >/dev/null || { echo "Node.js and npm are needed for the web app"; exit 1; }
	cd web && npm ci --no-audit --no-fund
	@touch $@

web/dist/app.js: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run --silent build

web: web/dist/app.js

web-typecheck: web/node_modules/.installed
	cd web && npm run --silent typecheck

# Debian's packages the tests need: chromium for the browser tests (Playwright drives it; it never
# downloads a browser) and espeak-ng, whose speech the caption tests and bench transcribe.
DEBIAN_TOOLS := chromium espeak-ng
debian-tools:
	@missing=$$(for t in $(DEBIAN_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	  [ -z "$$missing" ] || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y $$missing; }

chromium: debian-tools

up: install servers web worker-install
	$(BIN)/python -m infra.local.stack

# Lint and type checks first (seconds), then every test tier.
test: lint servers worker-install web debian-tools
	$(BIN)/python -m pytest
	$(MAKE) test-media

# tests/media run in the worker's venv (the main venv's conftest is not loaded there).
# test_hls_web_app.py plays the built web app (make web) in chromium.
test-media: worker-install servers debian-tools web
	PYTHONPATH=livekit/worker:. $(WORKER_VENV)/bin/python -m pytest --confcutdir=tests/media -p no:cacheprovider tests/media

lint: install web-typecheck
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: install servers loadgen debian-tools
	$(BIN)/python -m bench.run

# Regenerate template.yaml and infra/livekit-cluster.yaml from the Chalice app and configs.
template: install
	$(BIN)/python -m infra.build_template

clean:
	rm -rf $(VENV) .pytest_cache
