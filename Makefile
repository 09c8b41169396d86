# Two set-up commands: `make install`, then `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Where the spec comes from: a local path or a URL (HH publishes it at the default).
HH_SPEC ?= https://api.hh.ru/openapi/specification/public
export HH_SPEC

# redis-server: the tests of shared state (tokens, throttle, webhooks) run against a real one.
.PHONY: install system venv spec update-spec generate lint test report bench demo clean

install: system venv spec generate

system:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "install redis-server (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)" >&2; exit 1; fi; }

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

# A new spec from $(HH_SPEC): the old one kept as openapi.previous.yml, the client regenerated, and what
# changes for Python callers printed (methods, parameters, model fields; breaking first).
update-spec: $(BIN)/python
	$(BIN)/python -m codegen spec
	$(BIN)/python -m codegen generate
	@if [ -f openapi.previous.yml ]; then $(BIN)/python -m codegen diff openapi.previous.yml openapi.yml; \
	else echo "no previous spec kept (the same spec again, or the first one): nothing to compare"; fi

report: $(BIN)/python
	$(BIN)/python -m codegen report --json

lint: $(BIN)/python
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The generated client is rebuilt when the spec, an overlay or the pipeline changed since it was made.
RAW := hh_async/_raw/generation.json
$(RAW): openapi.yml $(filter-out codegen/diff.py codegen/build_backend.py,$(wildcard codegen/*.py)) $(wildcard codegen/config.yml codegen/templates/* overlays/*) | $(BIN)/python
	$(BIN)/python -m codegen generate

openapi.yml: | $(BIN)/python
	$(BIN)/python -m codegen spec

test: $(RAW) lint
	$(BIN)/python -m pytest -q

bench: $(BIN)/python
	$(BIN)/python benchmarks/client_cpu.py
	$(BIN)/python benchmarks/client_cpu.py --body search --read id+name --concurrency 20 --batch 40 --batches 15
	$(BIN)/python benchmarks/client_cpu.py --body search --read all --concurrency 20 --batch 40 --batches 15
	$(BIN)/python benchmarks/client_cpu.py --body vacancy --concurrency 100 --batch 500 --batches 12
	$(BIN)/python benchmarks/call_overhead.py
	$(BIN)/python benchmarks/request_path.py
	$(BIN)/python benchmarks/per_user_view.py
	$(BIN)/python benchmarks/cache_hit.py
	$(BIN)/python benchmarks/parse_cost.py
	$(BIN)/python benchmarks/paginate_rate.py
	$(BIN)/python benchmarks/sweep_rss.py
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/fake_server_rps.py

# An sdist carrying hh_async/_raw generated from $(HH_SPEC), then a wheel built from that sdist, each in
# an isolated build environment (codegen/build_backend.py); installing either needs no spec.
.PHONY: dist
dist: $(BIN)/python
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

demo: $(BIN)/python
	$(BIN)/python examples/offline_demo.py

clean:
	rm -rf $(VENV) build dist hh_async/_raw openapi.yml
