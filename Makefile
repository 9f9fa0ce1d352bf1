# The README's two commands: `make reproduce` (main job) and `make test`; `make notebooks` after
# editing a notebook or its percent script.
# Each creates the virtual environment it needs in $(VENV) on first use.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install reproduce notebooks test lint clean-venv

# torch/torchvision first, as the exact pair (the CUDA build also runs on CPU); then the project.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e ".[notebooks,cluster,torchmetrics,dev]"
	touch $(STAMP)

install: $(STAMP)

# Main job: notebooks 01-05 of the cpu preset executed into results/notebooks/, then
# results/REPORT.md (tables beside the paper's, figures, machine, time, supported claims).
reproduce: $(STAMP)
	$(BIN)/basnet reproduce --preset cpu

# Each notebook is paired with its percent script notebooks/NN_name.py (notebooks/jupytext.toml):
# bring every pair in line (the newer file of each is the source), then clear the .ipynb's outputs
# and execution counts, as it is committed.
notebooks: $(STAMP)
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py
	$(BIN)/python -c 'import sys; from basnet_lib.reproduction.notebooks import clear_outputs; [clear_outputs(p) for p in sys.argv[1:]]' notebooks/[0-9][0-9]_*.ipynb

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)
