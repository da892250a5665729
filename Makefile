# Two commands for a newcomer: `make run` (embedded platform) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: run test lint format venv npm migrate seed serve clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

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

lint: venv
	$(BIN)/ruff check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var staticfiles node_modules
