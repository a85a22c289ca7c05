# Two entry points a person needs: `make demo` and `make test`. Everything else is a helper.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: setup demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

## Set up and run the demo: the platform on embedded defaults, seeded from real data.
demo: setup
	$(VENV)/bin/finbridge demo

## Set up and run the whole test suite (starts PostgreSQL/Redis and installs Chromium if missing).
test: setup
	bash scripts/test-services.sh
	$(MAKE) lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench: setup
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev,bench]'

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
