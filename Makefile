# spine-auc — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint typecheck unit criteria-check bench soak clean

$(BIN)/spine-auc: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

## Serve on 127.0.0.1:8080 with the embedded default (SQLite under ./var, bundled criteria and fixtures).
run: $(BIN)/spine-auc
	$(BIN)/spine-auc serve --host $(HOST) --port $(PORT)

## The whole suite: lint, types, criteria check, unit + contract + integration tests.
test: $(BIN)/spine-auc lint typecheck criteria-check
	$(BIN)/pytest -q

lint: $(BIN)/spine-auc
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app bench

typecheck: $(BIN)/spine-auc
	$(BIN)/mypy

criteria-check: $(BIN)/spine-auc
	$(BIN)/spine-auc criteria check

unit: $(BIN)/spine-auc
	$(BIN)/pytest -q tests/unit

## Benchmarks; PEER_DIR=<built sandbox-cds-services> adds the reference service (bench/README.md),
## BENCH_ARGS="--only http --quick" a subset.
bench: $(BIN)/spine-auc
	PEER_DIR="$(PEER_DIR)" $(BIN)/python -m bench $(BENCH_ARGS)

## Soak (not part of `test`): 70 % of the measured maximum against `spine-auc serve` for SOAK_MINUTES (10).
soak: $(BIN)/spine-auc
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .venv-sekmet var .pytest_cache .mypy_cache .ruff_cache
