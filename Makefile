# shipbot: `make demo` runs the bot on embedded defaults, `make test` runs the tests.
# Installs come from uv.lock (what the tests ran with); `make lock` moves it to the newest releases pyproject.toml
# allows, `make test-latest` runs the suite on those newest releases without touching the lock.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# the uv that reads uv.lock; keep it equal to the lock's own pin of uv (tests/packaging/test_lock.py checks)
UV_VERSION := 0.13.9
# uv uses the machine's Python, never downloads one; `.venv` (or VENV) is the project's environment; the installed
# packages are byte-compiled as pip does (uv does not by default), so a process that imports them does not compile
# them again each time where PYTHONDONTWRITEBYTECODE is set
UV_ENV := UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=$(VENV) UV_COMPILE_BYTECODE=1
SOURCES := bot cli commands deploy demo webhooks sinks slack_emulator tests bench tools
LATEST ?= .venv-latest
# test files spread over two processes (pytest-xdist; a file's tests stay together, in one process, in order), CI
# included; PYTEST_ARGS= runs them in one process. Tests choose ports from their process's own block
# (tests/support/ports.py), so two processes never pick the same one.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: install demo test test-latest lock check lint typecheck layers bench bench-install clean

$(STAMP): pyproject.toml uv.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV_ENV) $(BIN)/uv sync --quiet --locked --extra dev --python $(BIN)/python
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/shipbot demo

test: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 $(SOURCES) >/dev/null  # the tests start many shipbot processes
	$(BIN)/pytest -q $(PYTEST_ARGS)

# the suite on the newest releases pyproject.toml allows, in a venv of its own: the next breaking release, on purpose
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	$(LATEST)/bin/python -m pip list --format=freeze > $(LATEST)/versions.txt
	TESTS_UNLOCKED=1 $(LATEST)/bin/pytest -q $(PYTEST_ARGS)

# resolve uv.lock anew from pyproject.toml's ranges (newest allowed releases), then install it
lock: $(STAMP)
	$(UV_ENV) $(BIN)/uv lock --upgrade --python $(BIN)/python
	$(UV_ENV) $(BIN)/uv sync --quiet --frozen --extra dev --python $(BIN)/python

check: lint typecheck layers

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

bench-install: $(STAMP)
	$(UV_ENV) $(BIN)/uv sync --quiet --frozen --extra dev --extra bench --python $(BIN)/python

bench: bench-install
	$(BIN)/python -m bench.fanout
	$(BIN)/python -m bench.chat
	$(BIN)/python -m bench.store
	$(BIN)/python -m bench.store_door
	$(BIN)/python -m bench.store_acks

clean:
	rm -rf $(VENV) $(LATEST) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
