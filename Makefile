# Fieldcase: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench migrate demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/fieldcase migrate
	$(BIN)/fieldcase demo --first-run
	$(BIN)/fieldcase serve --with-scheduler

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2

bench: $(VENV)/.installed-test
	$(BIN)/python -m ops.bench

migrate: $(VENV)/.installed
	$(BIN)/fieldcase migrate

demo: $(VENV)/.installed
	$(BIN)/fieldcase demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
