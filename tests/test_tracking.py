"""The sqlite tracking store under concurrent writers (parallel stages, `dvc queue start -j N`):
four processes each log three runs at once (params, a 2,000-point loss history, metrics); every
run is FINISHED with all its points, nested under the one pipeline run, and the database is in
WAL mode. The pipeline run's span, and `make mlflow-ui`'s link to the runs table."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

WRITER = r"""
import sys
from genbench.core.config import MlflowConfig
from genbench import tracking
cfg = MlflowConfig(tracking_uri=sys.argv[1])
for i in range(3):
    with tracking.run(cfg, model=f"m{sys.argv[2]}-{i}", kind="vae") as r:
        r.log_params({"model": {"lr": 0.001, "i": i}, "writer": sys.argv[2]})
        r.log_history([(s, k, float(s)) for s in range(1000) for k in ("loss", "rec")])
        r.log_metrics({"fid": 1.0 + i, "kid": 0.5})
"""


@pytest.mark.slow
def test_concurrent_writers_lose_no_run(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, uri, str(w)], cwd=tmp_path,
                              stderr=subprocess.PIPE, text=True) for w in range(4)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("genbench")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags["genbench.kind"] == "pipeline"]
    assert len(parents) == 1, "four writers at once find one pipeline run, not four"
    runs = [r for r in runs if r not in parents]
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parents[0].info.run_id}
    assert sorted(r.data.tags["genbench.model"] for r in runs) == sorted(
        f"m{w}-{i}" for w in range(4) for i in range(3))
    assert all(r.info.status == "FINISHED" for r in runs)
    assert all(len(client.get_metric_history(r.info.run_id, "loss")) == 1000 for r in runs)
    assert all(r.data.metrics["fid"] >= 1.0 for r in runs)
    mode = sqlite3.connect(tmp_path / "mlflow.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_the_pipeline_run_spans_its_runs(tmp_path, monkeypatch):
    """The parent run starts with its first child's start time and ends with its last child's
    end, so MLflow's Duration column shows the pipeline run's span, not 0 s."""
    from mlflow import MlflowClient

    from genbench import tracking
    from genbench.core.config import MlflowConfig

    monkeypatch.setenv("DVC_EXP_NAME", "span")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = MlflowConfig(tracking_uri=uri)
    for model, start, end in (("a", 1_000_000, 1_060_000), ("b", 1_030_000, 1_200_000)):
        with tracking.run(cfg, model=model, kind="vae", start_ms=start, end_ms=end) as r:
            r.log_metrics({"fid": 1.0})
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(cfg.experiment)
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.data.tags["genbench.kind"] == "pipeline")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 2
    assert (parent.info.start_time, parent.info.end_time) == (1_000_000, 1_200_000)


def test_mlflow_ui_links_the_experiments_runs_table(tmp_path):
    """`make mlflow-ui`'s link: the runs page of the experiment (its id read from the database,
    the Model training view in the URL); the experiments list before any run exists."""
    from mlflow import MlflowClient

    from genbench.mlflow_ui import runs_url

    db = tmp_path / "mlflow.db"
    assert runs_url(db, "genbench") == \
        "http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
    client = MlflowClient(f"sqlite:///{db}")
    client.create_experiment("other")
    exp_id = client.create_experiment("genbench")
    assert runs_url(db, "genbench", port=5055) == \
        f"http://127.0.0.1:5055/#/experiments/{exp_id}/runs?workflowType=machine_learning"
    assert runs_url(db, "missing").endswith("/#/experiments?workflowType=machine_learning")
