# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench serve clean samples

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)  ## one full pass on the embedded default (sample entities, var/)
	$(BIN)/visitas run

test: $(STAMP) lint  ## lint, then the whole test suite (real S3 on SeaweedFS, PostgreSQL and MariaDB, an SMTP server, Dagster's daemon, Chromium)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)  ## measure speed and memory; writes docs/benchmarks.md
	$(BIN)/python -m benchmarks

serve: $(STAMP)
	$(BIN)/visitas serve

samples: $(STAMP)  ## regenerate the sample uploads in datasets/samples (seeded)
	$(BIN)/python scripts/generate_samples.py

clean:
	rm -rf var
