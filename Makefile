# Two commands set everything up on a fresh machine: `make repro` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install repro tune quickstart exps readme test test-fast golden faults bench params mlflow-ui mlflow-server mlflow-sync clean-outputs

# The stamp depends on the pins: changing pyproject.toml or requirements.lock reinstalls.
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.lock 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install -q --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import genbench, torch, torchvision, dvc, mlflow, hydra; torchvision.utils.make_grid"
	touch $@

install: $(VENV)/.installed

repro: install  ## rebuild every result of params.yaml: dvc repro, one stage per core side by side
	source $(BIN)/activate && python -m genbench.repro

# Not part of `make repro`: rewrites reports/tune.json, reports/tune/ and conf/tuned/ (which
# the tuned arms' conf/model files include); then `make params` and `make repro` retrain them.
tune: install  ## the tuning study: random search per claim arm at equal CPU-seconds (conf/tune.yaml)
	source $(BIN)/activate && python -m genbench.pipeline.tune.run

# toolbox=none: the vae chain, the evaluator, coverage, claims and the report only (no study
# beyond the model chains, no extra seed; conf/toolbox)
quickstart: install  ## the first experiment: one model (vae) on the tiny digits data (74-103 s measured)
	source $(BIN)/activate && dvc exp run -S data=digits -S budget=smoke -S 'model=[vae]' -S toolbox=none

# Plain `dvc exp show` has a column per params.yaml leaf (~550) and per file dependency (~340),
# and DVC has no setting to hide them: this prints the params that differ from the baseline on
# one line per experiment, then FID / KID / test NLL with a column per experiment.
exps: install  ## experiments side by side in <= 200 columns (python -m genbench.exps -h)
	source $(BIN)/activate && python -m genbench.exps

readme: install  ## README.md's results from reports/summary.json and reports/claims.json
	source $(BIN)/activate && python -m genbench.readme

# two pytest-xdist workers, whole files each, the longest first (tests/conftest.py)
test: install  ## unit tests + the slow whole-DAG run on the tiny digits dataset
	source $(BIN)/activate && pytest -q -n 2 --dist loadfile --no-loadscope-reorder

test-fast: install
	source $(BIN)/activate && pytest -q -m "not slow"

golden: install  ## this machine's golden digests of every model config (docs/development.md)
	source $(BIN)/activate && GENBENCH_WRITE_GOLDEN=1 pytest -q tests/test_every_config.py

faults: install  ## mistakes and faults run through DVC in a scratch clone: docs/faults.md (~10 min)
	source $(BIN)/activate && python benchmarks/faults.py

bench: install  ## training throughput per model and achieved GFLOP/s vs measured matmul peak
	source $(BIN)/activate && python benchmarks/bench.py

params: install  ## regenerate params.yaml from conf/ (dvc exp run does this itself)
	$(BIN)/python -c "from genbench.core.config import write_params; write_params()"

# MLflow 3.17's UI opens an experiment on its GenAI view (a switch kept in the browser); the
# link printed goes to the genbench experiment's runs table itself (src/genbench/mlflow_ui.py)
mlflow-ui: install  ## the MLflow UI of mlflow.db: open the link it prints (the runs table)
	$(BIN)/python -m genbench.mlflow_ui

# A team's tracking server: runs in a database backend store, artifacts under an artifact root
# that the server serves (clients need no access to its disk). Bound to 127.0.0.1: put it behind
# an authenticating proxy (or an SSH tunnel) before MLFLOW_HOST=0.0.0.0. Point every stage at it:
#   export MLFLOW_TRACKING_URI=http://127.0.0.1:5000
MLFLOW_HOST ?= 127.0.0.1
MLFLOW_PORT ?= 5000
MLFLOW_BACKEND ?= sqlite:///$(CURDIR)/mlflow-server/mlflow.db
MLFLOW_ARTIFACTS ?= $(CURDIR)/mlflow-server/artifacts
MLFLOW_WORKERS ?= 2
mlflow-server: install  ## MLflow tracking server (MLFLOW_BACKEND: e.g. postgresql://user@host/db)
	mkdir -p $(MLFLOW_ARTIFACTS)
	$(BIN)/mlflow server --backend-store-uri $(MLFLOW_BACKEND) \
	  --artifacts-destination $(MLFLOW_ARTIFACTS) --serve-artifacts \
	  --host $(MLFLOW_HOST) --port $(MLFLOW_PORT) --workers $(MLFLOW_WORKERS)

# A stage logs its MLflow run when it runs; a cached one does not. This sends the workspace's
# results (params.yaml's selection) to $MLFLOW_TRACKING_URI without retraining; runs already
# there are skipped (python -m genbench.mlflow_sync).
mlflow-sync: install  ## send the committed results to the tracking store ($MLFLOW_TRACKING_URI)
	source $(BIN)/activate && python -m genbench.mlflow_sync

