# Two commands do all set-up on a fresh machine (Python >= 3.10, pip; no GPU needed):
#   make demo   creates .venv, installs hf_shrunk and runs `hf-shrunk demo` (the whole study in minutes)
#   make test   creates .venv, installs hf_shrunk with its test tools and runs lint + the test suite
# torch is pinned to the CPU wheel 2.13.0: an unpinned torch would pull a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: install demo test lint clean

$(BIN)/hf-shrunk: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" -e ".[dev]"
	@touch $@

install: $(BIN)/hf-shrunk

demo: install
	HF_HUB_DISABLE_TELEMETRY=1 $(BIN)/hf-shrunk demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	HF_HUB_OFFLINE=1 HF_EVALUATE_OFFLINE=1 HF_UPDATE_DOWNLOAD_COUNTS=0 $(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
