# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= sqlite:///onething.db

.PHONY: run test lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/onething import fixtures/ningxia.jsonl --db $(DB)
	$(BIN)/onething serve --db $(DB) --host 127.0.0.1 --port 8000

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check catalog bundler api onething fixtures bench tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) onething.db .pytest_cache
