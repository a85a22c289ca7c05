# Two entry points a person needs: `make demo` and `make test`. Everything else is a helper.
VENV ?= .venv
PY := $(VENV)/bin/python
# Four workers on two cores: much of the suite waits on servers it starts (PostgreSQL, NATS,
# uvicorn, Chromium); with two workers the cores sat idle a third of the time.
PYTEST_WORKERS ?= 4
# The test runs' temporary files live in the checkout, not in /tmp/pytest-of-$USER: pytest keeps
# only the last three of those per user, so another pytest on the machine (a second checkout,
# a benchmark) could rotate a running suite's directories away. Cleared at each run's start;
# a passing test's own directory goes at its teardown (pyproject: tmp_path_retention_policy).
BASETEMP ?= $(CURDIR)/var/pytest
# pytest may write its rewritten test modules' bytecode (this workplace sets
# PYTHONDONTWRITEBYTECODE=1): every xdist worker imports every test module to collect, ~7 s of
# CPU each without the cache (24.5 -> 17.3 s for one collection, measured 2026-12-07), and the
# faketime step's workers reuse what the first run wrote.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest

.PHONY: setup demo test test-future lint bench clean fuzz

# Bytecode compiled at install, as pip does by default and every production image does: uv does
# not, and this workplace sets PYTHONDONTWRITEBYTECODE=1, so without it every process (each test
# worker, the served app, its child processes) compiled every module it imported from source on
# each start (a fifth of the served app's CPU in its first minute; issue 13's PostgreSQL tail).
# The risk engine's numba kernels likewise, into numba's cache (scripts/compile_kernels.py).
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev]'
	$(PY) -m compileall -q -j 0 src
	$(PY) scripts/compile_kernels.py
	touch $@

setup: $(VENV)/.installed

## Set up and run the demo: the platform on embedded defaults, seeded from real data.
demo: setup
	$(VENV)/bin/finbridge demo

## Set up and run the whole test suite (starts PostgreSQL/Redis, installs Chromium and faketime
## if missing), then its fast part again with the wall clock 400 days ahead.
test: setup
	bash scripts/test-services.sh
	$(MAKE) lint
	mkdir -p $(BASETEMP)
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadfile --durations=15 --basetemp=$(BASETEMP)/suite
	$(MAKE) test-future
	$(MAKE) fuzz

## A bounded schemathesis run (examples, coverage, fuzzing; fixed seed) against a served API on
## SQLite and PostgreSQL: fails on any 5xx or response breaking its own schema (issue 11).
# 20 s per database still reaches every operation (each gets its examples and coverage cases).
FUZZ_SECONDS ?= 20
FUZZ_PG_ADMIN_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
fuzz: setup
	$(PY) scripts/fuzz_api.py --max-time $(FUZZ_SECONDS) --pg-admin-url $(FUZZ_PG_ADMIN_URL)

# The suite must pass on any date. Tests run on a fixed clock (2026-11-02); anything a library
# checks against the real time (TLS certificates, tokens checked by others, browser cookies,
# exchange calendars' "now" window) must not be made from it. This step catches such time
# bombs before the calendar does: the wall clock of every test process is 400 days ahead.
# FAKETIME_DONT_FAKE_MONOTONIC=1: a faked monotonic clock hangs threaded tests.
# -p tests.faketime_support mends two libfaketime faults (Python's time.sleep fails with EINVAL;
# a spawned redis-server cannot start), see there.
# Left out, as artefacts of the faking tool proven on 2026-12-06 (not of our code):
#   browser  Chromium itself hangs under libfaketime, with no finbridge code involved:
#            `FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f +400d chromium --headless --no-sandbox
#            --disable-gpu --dump-dom 'data:text/html,<p>x</p>'` never prints the page (it does
#            in real time). With Chromium alone on the real clock (launched without LD_PRELOAD),
#            the customer login and passkey tests pass 400 days ahead: no time bomb there (the
#            console cookie has a relative Max-Age, tokens are checked by our own clock).
#   spark    the JVM of the PySpark gateway never comes up under libfaketime (still waiting
#            after 400 s, even with time.sleep mended; it starts in real time).
#   slow     not an artefact: left to the normal run to keep CI within 20 minutes.
#   postgresql  the PostgreSQL twin of a test parametrized over both databases: the wall clock
#            a library reads is the test process's, whichever database stores the rows (and
#            the PostgreSQL server itself never runs under faketime), so the SQLite twin
#            covers it; every test process runs about 2.5x slower under libfaketime.
#   route walks  tests/api/test_auth_everywhere.py walks every route with bad credentials (4 x
#            about 40 s under libfaketime, 2-6 s each on the real clock): credentials are checked
#            by our own clock, not by a library; the normal run covers them.
# FAKETIME_FORCE_MONOTONIC_FIX=0: libfaketime's fix for condition variables timed on the monotonic
# clock is for a faked monotonic clock, which this step does not fake; left on (Debian's default),
# every wait of a Python thread for the GIL goes through it, and two busy threads ran 4x slower
# (measured 2026-12-07: two CPU-bound threads 0.36 s plain, 1.45 s faked, 0.41 s with the fix
# off); an xdist worker's test with a server thread ran 15x slower (a 2-file openbanking slice
# under `-n 2`: 71 s, 17 s with it off), so this step took 8 min instead of under 5. Three
# workers: the whole step took 4 min 41 s with three, 5 min 08 s with four (2026-12-07).
FUTURE_WORKERS ?= 3
test-future: setup
	mkdir -p $(BASETEMP)
	FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_FORCE_MONOTONIC_FIX=0 faketime -f '+400d' \
		$(PYTEST) -p tests.faketime_support \
		-n $(FUTURE_WORKERS) --dist loadfile --basetemp=$(BASETEMP)/future -m "not slow and not spark and not browser" \
		-k "not postgresql and not test_every_route_refuses_without_valid_credentials" -q

# mypy's incremental cache lives outside the checkout, so a fresh clone on the same machine
# re-checks only what changed (mypy validates every cached module by its file hash).
MYPY_CACHE ?= $(HOME)/.cache/finbridge-mypy
lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy --cache-dir $(MYPY_CACHE)
	$(VENV)/bin/lint-imports --no-cache

bench: setup
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.[dev,bench]'

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
