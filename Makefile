# Two set-up commands: `make install`, then `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Where the spec comes from: a local path or a URL (HH publishes it at the default).
HH_SPEC ?= https://api.hh.ru/openapi/specification/public
export HH_SPEC

.PHONY: install venv spec generate lint test report bench demo clean

install: venv spec generate

venv: $(BIN)/python
$(BIN)/python: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(BIN)/python

spec: $(BIN)/python
	$(BIN)/python -m codegen spec

generate: $(BIN)/python
	$(BIN)/python -m codegen generate

report: $(BIN)/python
	$(BIN)/python -m codegen report --json

lint: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

bench: $(BIN)/python
	$(BIN)/python benchmarks/client_cpu.py
	$(BIN)/python benchmarks/call_overhead.py
	$(BIN)/python benchmarks/parse_cost.py
	$(BIN)/python benchmarks/paginate_rate.py
	$(BIN)/python benchmarks/sweep_rss.py
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/fake_server_rps.py

demo: $(BIN)/python
	$(BIN)/python examples/offline_demo.py

clean:
	rm -rf $(VENV) build hh_async/_raw openapi.yml
