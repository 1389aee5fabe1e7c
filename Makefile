# Ohm — the two commands:  make run   (install + run the demo)   |   make test   (install + whole suite)
.PHONY: install install-dev run test test-postgres lint format ci clean

DEMO_ACCOUNTS ?= 10000
DEMO_SEED ?= 1

install:
	@scripts/install

install-dev:
	@scripts/install --dev

run: install
	@.venv/bin/ohm up --demo-accounts $(DEMO_ACCOUNTS) --demo-seed $(DEMO_SEED)

test: install-dev
	@.venv/bin/pytest $(PYTEST_ARGS)

test-postgres: install-dev
	@DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} .venv/bin/pytest $(PYTEST_ARGS)

lint: install-dev
	@scripts/lint

format: install-dev
	@.venv/bin/ruff format src tests bench && .venv/bin/ruff check --fix src tests bench

ci:
	@bash .ci/run

clean:
	rm -rf .venv node_modules var .pytest_cache .ruff_cache .mypy_cache
