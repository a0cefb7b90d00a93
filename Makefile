# Two commands matter: `make demo` and `make test`. Both create or reuse .venv, installed
# with the exact versions of constraints.txt (pyproject.toml declares ranges for users).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test demo lint bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c constraints.txt --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev,dask,attacks]'
	touch $(STAMP)

test: venv
	$(BIN)/python -m pytest -q

demo: venv
	$(BIN)/genlabel demo

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: venv
	$(BIN)/python benchmarks/relabel.py
	$(BIN)/python benchmarks/protocol.py --model logistic
	$(BIN)/python benchmarks/protocol.py --model mlp

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
