# The README's two commands: `make reproduce` (main job) and `make test`.
# Each creates the virtual environment it needs in $(VENV) on first use.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install reproduce test lint clean-venv

# torch/torchvision first, as the exact pair (the CUDA build also runs on CPU); then the project.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install --quiet -e ".[notebooks,dev]"
	touch $(STAMP)

install: $(STAMP)

# Main job. Until the reproduction notebooks land it prints the installation and the
# architecture summary (parameters per Table 1 variant) into results/architecture/.
reproduce: $(STAMP)
	$(BIN)/basnet info
	$(BIN)/basnet params --backbones resnet50 resnet101 --width 256 --out results/architecture

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

clean-venv:
	rm -rf $(VENV)
