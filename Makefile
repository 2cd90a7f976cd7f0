# Two set-up commands that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt
# Tests use 2 workers by default (the CI machine has 2 cores), one math thread each: two
# workers with a thread per core each would oversubscribe the cores (OpenMP spin-waits).
PYTEST_ARGS ?= -n 2
TEST_THREADS ?= 1

.PHONY: demo test install install-test clean

$(VENV)/.base: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e .
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) -e '.[test]'
	touch $@

install: $(VENV)/.base
install-test: $(VENV)/.test

demo: install
	$(VENV)/bin/geosr demo --out runs/demo

test: install-test
	OMP_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache
