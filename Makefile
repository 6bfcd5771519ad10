# Two commands do all set-up on a fresh machine (Python >= 3.10, pip; no GPU needed):
#   make demo   creates .venv, installs hf_shrunk and runs `hf-shrunk demo` (the whole study in minutes)
#   make test   creates .venv, installs hf_shrunk with its test tools and runs lint + the test suite
# torch is pinned to 2.13.0. Where the package index serves CUDA builds by default (pypi.org on Linux), a machine
# without a GPU gets the CPU-only wheel with TORCH_INDEX=https://download.pytorch.org/whl/cpu (see README, Install).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=

.PHONY: install demo test lint clean

$(BIN)/hf-shrunk: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)")
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
