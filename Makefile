# Quickstart: `make demo` and `make test`. Both create .venv when missing and install
# torch==2.13.0 (CPU build) explicitly *before* the package, so pip never resolves a bare
# `torch` requirement (which would pull gigabytes of CUDA wheels).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.smfa-installed

.PHONY: demo test lint install clean lock

LOCK := requirements.lock
TORCH := torch==2.13.0

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -c $(LOCK) -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(VENV)/bin/smfa demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Re-resolve every dependency from pyproject.toml in a scratch venv and pin what it got.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -q $(TORCH) && .lock-venv/bin/python -m pip install -q -e ".[dev]"
	{ sed -n '1,3p' $(LOCK); .lock-venv/bin/python -m pip freeze | grep -v -e '^-e' -e '^smfa' -e '^torch=='; } > $(LOCK).new
	mv $(LOCK).new $(LOCK) && rm -rf .lock-venv

clean:
	rm -rf runs .pytest_cache
