# Two commands on a fresh machine (python3 and make):
#   make demo   virtualenv, migrations, demo accounts, Daphne on http://127.0.0.1:8000
#   make test   lint, then the suite on SQLite, on PostgreSQL + Redis, and in headless Chromium,
#               on Python 3.11 + Django 5.2 (.venv) and on Python 3.13 + Django 6.1 (nox)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
REDIS  ?= redis://127.0.0.1:6379/0

.PHONY: demo test lint test-sqlite test-postgres test-e2e test-matrix screenshots bench clean

# Browser-test tools from the npm registry (axe-core, pinned in tests/e2e/package.json).
E2E_NODE := tests/e2e/node_modules/axe-core/axe.min.js

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

demo: export DEMO_CATEGORIES = 1
demo: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_users
	@echo "Serving on http://127.0.0.1:8000/ (Ctrl-C to stop)"
	$(PY) -m daphne -e tcp:port=8000:interface=127.0.0.1:backlog=2048 \
		--websocket-max-message-size 65536 --ping-interval 30 --ping-timeout 30 \
		config.asgi:application

test: lint test-sqlite test-postgres test-e2e test-matrix

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Embedded defaults: SQLite and the in-memory layer (Redis only where a test needs it).
test-sqlite: $(VENV)/.installed
	$(PY) -m pytest

# The real services: PostgreSQL and the Redis channel layer for every test.
test-postgres: $(VENV)/.installed
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) $(PY) -m pytest

$(E2E_NODE): tests/e2e/package.json
	npm install --prefix tests/e2e --no-package-lock --no-audit --no-fund --loglevel=error
	touch $@

# Headless Chromium against Daphne + Redis + PostgreSQL.
test-e2e: $(VENV)/.installed $(E2E_NODE)
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) $(PY) -m pytest tests/e2e

# The newest supported pair (noxfile.py), installed from PyPI into .nox/: the same
# three suites and makemigrations --check. Other pairs: .venv/bin/nox --list.
test-matrix: $(VENV)/.installed $(E2E_NODE)
	$(VENV)/bin/nox -s "tests-3.13(django='6.1')"

# Refresh docs/screenshots/ (four widths, both themes) and the README's picture.
screenshots: $(VENV)/.installed $(E2E_NODE)
	NOTIFICATIONS_UPDATE_SCREENSHOTS=1 DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) \
		$(PY) -m pytest tests/e2e/test_layout.py tests/e2e/test_client.py tests/e2e/test_reach.py -k "fits or screenshot" -q

# Figures go to BENCHMARKS.md. PostgreSQL + Redis, like production.
bench: $(VENV)/.installed
	$(PY) -m pip install --quiet -r bench/requirements.txt
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) $(PY) bench/run.py
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) DATABASE_TEST_NAME=bench_admin \
		$(PY) -m pytest tests/test_admin.py -m bench -s -q

clean:
	rm -rf $(VENV) .nox db.sqlite3 test_db*.sqlite3 tests/e2e/artifacts tests/e2e/node_modules
