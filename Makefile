# The one place that says how to build, run and test Salescast. README.md and .ci/run call these.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
RELEASE_BIN := $(or $(CARGO_TARGET_DIR),target)/release
DEBUG_BIN := $(or $(CARGO_TARGET_DIR),target)/debug

.PHONY: run test lint unit build-release pipeline venv bench clean toolchain

## The main job: build, generate data, run the pipeline.
run: toolchain build-release pipeline

## All tests, as CI runs them: formatting, lints, unit, integration and doc tests.
test: toolchain lint unit

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked

build-release:
	$(CARGO) build --release --locked --bin salescast

pipeline:
	$(RELEASE_BIN)/salescast generate --out data/raw/sales.csv
	$(RELEASE_BIN)/salescast pipeline --input data/raw/sales.csv --workdir .
	@echo "cleaned data: data/processed  features: data/features  models: models  metrics: metrics.json  plots: plots"

## Python peers for the benchmarks, in a project-local virtualenv.
venv: $(VENV)/.installed
$(VENV)/.installed: bench/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r bench/requirements.txt
	touch $@

## Benchmarks against the Python peers (release build; medians and ratios).
bench: venv build-release
	$(VENV)/bin/python bench/preprocess_vs_pandas.py --bin $(RELEASE_BIN)/salescast
	$(VENV)/bin/python bench/models_vs_sklearn.py --bin $(RELEASE_BIN)/salescast
	$(CARGO) bench -p salescast-pipeline --bench serving

clean:
	rm -rf data/raw data/processed data/features metrics.json plots
	find models -mindepth 1 ! -name .gitkeep -delete
