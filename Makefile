# Two commands for a new user: `make demo` (set up, get MIT-BIH, train, evaluate) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# Point the PhysioNet mirror at the local copy when it exists (these machines have no internet).
LOCAL_MIRROR := $(abspath ../shared/data/physionet)
ifneq ($(wildcard $(LOCAL_MIRROR)/mitdb),)
export ECGZOO_PHYSIONET_MIRROR ?= $(LOCAL_MIRROR)
endif

.PHONY: install chromium demo test test-fast lint bench

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned first: a loose requirement would pull several GB of CUDA packages
	$(PY) -m pip install -q torch==2.13.0
	# the library versions the benchmark figures were measured with (constraints.txt)
	$(PY) -m pip install -q -c constraints.txt -e ".[tune,dev]"
	touch $@

install: $(VENV)/.installed chromium

# The HTML report test renders pages in a real browser: Debian's chromium, installed once
# (quietly, only when missing; needs root or passwordless sudo on a fresh CI machine).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(BIN)/ecgzoo data fetch mitdb
	$(BIN)/ecgzoo data info mitdb --out runs/data-info
	$(BIN)/ecgzoo train configs/demo.yaml --overwrite

# The whole suite (what CI runs). test-fast: unit tests and two real MIT-BIH records, no test
# marked slow (tests/conftest.py); under 2 minutes on 2 cores, and it still needs the mirror.
# Two xdist workers (one torch thread each, tests/conftest.py); a module and its fixtures stay
# on one worker, and the modules that start Ray share one.
TEST_WORKERS ?= 2
test: install
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

test-fast: install
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup -m "not slow"

# Style and the import graph: the layers and no-circle contracts are in pyproject.toml
# ([tool.importlinter]; docs/design.md, "Layers").
lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-logo
