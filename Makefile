# Two commands matter: `make demo` and `make test`. Both create or reuse .venv, installed
# with the exact versions of constraints.txt (pyproject.toml declares ranges for users).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test demo lint bench docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c constraints.txt --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev,dask,attacks,docs]'
	touch $(STAMP)

test: venv
	$(BIN)/python -m pytest -q

demo: venv
	$(BIN)/genlabel demo

lint: venv
	$(BIN)/ruff check src tests benchmarks docs/hooks
	$(BIN)/ruff format --check src tests benchmarks docs/hooks
	$(BIN)/mypy

bench: venv
	$(BIN)/python benchmarks/relabel.py
	$(BIN)/python benchmarks/protocol.py --model logistic
	$(BIN)/python benchmarks/protocol.py --model mlp

# The documentation site: docs/ + mkdocs.yml -> site/ (open site/index.html, or
# .venv/bin/mkdocs serve). --strict: a broken link or reference fails the build.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info
