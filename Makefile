# The README's two commands: `make reproduce` (main job) and `make test`; `make notebooks` after
# editing a notebook or its percent script.
# Each creates the virtual environment it needs in $(VENV) on first use.

VENV ?= .venv
comma := ,
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install lock reproduce notebooks test lint clean-venv

LOCK := requirements-lock.txt
LOCK_PYTHON := 3.11
EXTRAS := notebooks,cluster,torchmetrics,dev

# Every package at the version and hash of the lock (docs/decisions.md, "Same seed, same numbers");
# then the project itself, without resolving anything more.
$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == tuple(map(int, "$(LOCK_PYTHON)".split("."))) else f"$(LOCK) is for Python $(LOCK_PYTHON), $(PYTHON) is {v[0]}.{v[1]}: make PYTHON=python$(LOCK_PYTHON)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e ".[$(EXTRAS)]"
	touch $(STAMP)

# Regenerate the lock (after editing pyproject.toml's ranges): the newest releases the ranges allow,
# torch/torchvision as the exact pair, hashes of every file, for Python $(LOCK_PYTHON) on x86-64 Linux.
# typing: cityscapesscripts requires this backport, whose newest release is for Python < 3.5 (uv
# ignores such upper bounds, pip does not): the last release pip installs on 3.11.
lock:
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet uv==0.13.9
	printf 'torch==2.14.1\ntorchvision==0.29.1\ntyping==3.7.4.3\n' | $(VENV)-lock/bin/uv pip compile pyproject.toml - \
		$(foreach extra,$(subst $(comma), ,$(EXTRAS)),--extra $(extra)) --python-version $(LOCK_PYTHON) \
		--python-platform x86_64-manylinux_2_28 --generate-hashes --no-header --quiet -o $(LOCK)
	rm -rf $(VENV)-lock

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
