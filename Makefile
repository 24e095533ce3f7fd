# Two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck pytest es-start es-stop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/bioleak demo --keep bioleak-demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Starts the test Elasticsearch, runs lint, types and every test against it, and always stops it.
test: $(STAMP)
	@url=$$(bash scripts/elasticsearch.sh start) || exit 1; \
	status=0; \
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy \
	  && BIOLEAK_ES_URL=$$url $(BIN)/python -m pytest || status=$$?; \
	bash scripts/elasticsearch.sh stop; \
	exit $$status

es-start:
	bash scripts/elasticsearch.sh start

es-stop:
	bash scripts/elasticsearch.sh stop

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
