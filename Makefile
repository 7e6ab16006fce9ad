# ChatbotX: `make run` starts a server on the embedded default; `make test` runs the whole suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck check bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/chatbotx server start --configure-cli

test: $(STAMP)
	@if [ -z "$$CHATBOTX_TEST_POSTGRES_URL" ]; then echo "!!! CHATBOTX_TEST_POSTGRES_URL not set: the PostgreSQL suite is SKIPPED !!!"; fi
	@if [ -z "$$CHATBOTX_TEST_REDIS_URL" ]; then echo "!!! CHATBOTX_TEST_REDIS_URL not set: the Redis suite is SKIPPED !!!"; fi
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
