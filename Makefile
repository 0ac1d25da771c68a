# Two commands for a new user: `make demo` (set up, get MIT-BIH, train, evaluate) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# Point the PhysioNet mirror at the local copy when it exists (these machines have no internet).
LOCAL_MIRROR := $(abspath ../shared/data/physionet)
ifneq ($(wildcard $(LOCAL_MIRROR)/mitdb),)
export ECGZOO_PHYSIONET_MIRROR ?= $(LOCAL_MIRROR)
endif

.PHONY: install demo test lint bench

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch pinned first: a loose requirement would pull several GB of CUDA packages
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[tune,dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/ecgzoo data fetch mitdb
	$(BIN)/ecgzoo data info mitdb --out runs/data-info
	$(BIN)/ecgzoo train configs/demo.yaml --overwrite

test: install
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
