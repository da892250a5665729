# Two commands for a newcomer: `make run` (embedded platform) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: run test lint typecheck format venv npm migrate seed serve clean engine-build engine-clean engine-test stack stack-check
# The reference book stays interpreted: it is for reading and checking, not speed.
ENGINE_SOURCES := $(filter-out %/__init__.py %/reference.py,$(wildcard trading/engine/*.py))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The matching engine compiled with mypyc (same source; plain Python is the fallback).
$(VENV)/.engine-built: $(VENV)/.installed $(ENGINE_SOURCES)
	@# a stale build imports first and breaks the type check of the new source
	rm -rf build trading/engine/*.so *__mypyc.*.so
	$(BIN)/mypyc $(ENGINE_SOURCES) >/dev/null || (echo "engine build failed: running interpreted" && rm -f trading/engine/*.so *__mypyc.*.so)
	touch *__mypyc.*.so 2>/dev/null || true
	touch $@

venv: $(VENV)/.installed $(VENV)/.engine-built

engine-build:
	rm -f $(VENV)/.engine-built
	$(MAKE) $(VENV)/.engine-built

engine-clean:
	rm -rf build trading/engine/*.so *__mypyc.*.so $(VENV)/.engine-built

engine-test: venv
	$(BIN)/python -m pytest trading/tests/engine -p no:django --confcutdir=trading/tests/engine -q
	ENGINE_PURE=1 $(BIN)/python -m pytest trading/tests/engine -p no:django --confcutdir=trading/tests/engine -q

## Browser libraries (lightweight-charts) from the npm registry, exactly as locked;
## served from node_modules as static files (STATICFILES_DIRS), never from a CDN.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

npm: node_modules/.installed

migrate: venv
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

## One process: uvicorn (HTTP + WebSocket) and the demo market maker, which must
## share the in-memory channel layer (MM_ARGS=--no-market-maker to serve only).
serve: venv npm
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Serving on http://127.0.0.1:$(PORT)/  (markets: /markets/, admin: /admin/, API docs: /api/docs/)"
	$(BIN)/python manage.py serve_embedded --host 127.0.0.1 --port $(PORT) $(MM_ARGS)

## Embedded platform: SQLite, in-memory channel layer, eager Celery. No servers needed.
run: seed serve

## The whole test suite (SQLite by default; set DATABASE_URL/REDIS_URL for PostgreSQL).
test: venv npm
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m pytest $(PYTEST_ARGS)
	@echo "== the engine suite again on the interpreted build"
	ENGINE_PURE=1 $(BIN)/python -m pytest trading/tests/engine -p no:django --confcutdir=trading/tests/engine -q

## The production topology on this machine (docs/operations.md): production
## settings, PostgreSQL and Redis (started if down), migrations, demo data, two ASGI
## servers, matching and default workers, beat, the market maker and Prometheus,
## from the Procfile under honcho. Ctrl-C stops it.
stack: venv npm
	deploy/stack/run

## Against the running stack (or one it starts and stops): orders placed and
## cancelled through the API, a fill read on the user stream, the metrics moved,
## Prometheus scraping, verify_ledger passing. Bounded (STACK_CHECK_SECONDS, 175).
stack-check: venv npm
	$(BIN)/python deploy/stack/check.py

lint: venv
	$(BIN)/ruff check .

## mypy as configured in pyproject.toml: strict for trading/engine, basic elsewhere.
typecheck: venv
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: engine-clean
	rm -rf $(VENV) var staticfiles node_modules
