# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= sqlite:///onething.db
CASE_KEY ?= onething-case.key

.PHONY: run test lint bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/onething publish fixtures/ningxia.jsonl --db $(DB) --note "make run"
	@# A local admin token for this run (the previous run's is revoked), to sign in to the pages.
	@$(BIN)/onething token revoke --db $(DB) --name make-run >/dev/null 2>&1 || true
	@echo "Sign in at http://127.0.0.1:8000/pages/login with this admin token:"
	@$(BIN)/onething token create --db $(DB) --role admin --name make-run
	@# The key that seals cases' personal data (AES-GCM), made once, readable by its owner only (0600).
	@$(BIN)/onething cases keygen $(CASE_KEY) >/dev/null
	@# A few hundred generated cases so the pages show something (none added once there are cases).
	ONETHING_CASE_KEY_FILE=$(CASE_KEY) $(BIN)/python -m onething cases seed --db $(DB)
	ONETHING_CASE_KEY_FILE=$(CASE_KEY) $(BIN)/onething serve --db $(DB) --host 127.0.0.1 --port 8000

bench: $(VENV)/.installed
	$(BIN)/python bench/validate.py --rows 1000000
	$(BIN)/python bench/bundle.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/scale.py --rows 1000000 --db sqlite
	$(BIN)/python bench/replicas.py --rows 1000000

# Two workers (pytest-xdist): a test module on one worker, and all the page tests on one (see
# pytest_xdist_make_scheduler in tests/conftest.py).
test: $(VENV)/.installed
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(VENV)/.installed
	$(BIN)/ruff check catalog bundler api casework onething fixtures bench tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) onething.db .pytest_cache
