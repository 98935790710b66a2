"""A real MLflow tracking server on 127.0.0.1: a trained model's run (what the evaluate stage
logs: params, loss history, metrics, checkpoint) lands there; the REST API shows it. Also: a run
that fails is marked FAILED."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from conftest import ROOT, train_cmd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(f"{base}/api/2.0/mlflow/{path}",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture
def server(tmp_path):
    port = free_port()
    # what a user runs: `make mlflow-server` (its install step is up to date under `make test`)
    proc = subprocess.Popen(
        ["make", "-s", "mlflow-server", f"MLFLOW_PORT={port}", "MLFLOW_WORKERS=1",
         f"MLFLOW_BACKEND=sqlite:///{tmp_path}/server.db",
         f"MLFLOW_ARTIFACTS={tmp_path / 'artifacts'}"], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("mlflow server did not start")
            time.sleep(0.5)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # stop it by its PID (and its workers)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_model_run_logs_params_history_metrics_and_artifact_to_server(root, digits_workdir,
                                                                      server, monkeypatch):
    from genbench import tracking
    from genbench.core.config import EvaluateView
    from genbench.core.io import read_json, torch_load
    from genbench.params import load_view

    workdir = digits_workdir
    r = subprocess.run(train_cmd(root, "vae"), cwd=workdir, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not (workdir / "mlflow.db").exists()  # training itself tracks nothing
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("DVC_EXP_NAME", "server-test")
    m = workdir / "models" / "vae"
    run_id = tracking.log_model_run(
        load_view(workdir / "params.yaml", EvaluateView).mlflow, model="vae",
        record=torch_load(m / "model.pt"), train_info=read_json(m / "train.json"),
        losses_csv=m / "losses.csv", model_path=m / "model.pt",
        metrics={"fid": 12.5, "translation": {"model": {"ssim": 0.5}}})
    exp = api(server, "experiments/get-by-name?experiment_name=genbench")["experiment"]
    runs = api(server, "runs/search", {"experiment_ids": [exp["experiment_id"]]})["runs"]
    kinds = {x["info"]["run_id"]: {t["key"]: t["value"] for t in x["data"]["tags"]}
             for x in runs}
    parent = [i for i, t in kinds.items() if t["genbench.kind"] == "pipeline"]
    assert sorted(kinds) == sorted([run_id, *parent]) and len(parent) == 1
    assert kinds[run_id]["mlflow.parentRunId"] == parent[0]  # nested under its pipeline run
    assert kinds[parent[0]]["genbench.pipeline"] == "server-test"
    run = next(x for x in runs if x["info"]["run_id"] == run_id)
    assert run["info"]["status"] == "FINISHED"
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["genbench.model"] == "vae" and tags["dvc.exp_name"] == "server-test"
    metrics = {x["key"]: x["value"] for x in run["data"]["metrics"]}
    assert {"loss", "rec", "kl", "train_seconds", "fid", "translation.model.ssim"} <= set(metrics)
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["model.latent_dim"] == "16" and params["train.steps"] == "30"  # smoke
    history = api(server, f"metrics/get-history?run_id={run_id}&metric_key=loss")["metrics"]
    logged = (m / "losses.csv").read_text().splitlines()[1:]
    assert len(history) == len(logged) >= 2  # every logged step, not only the last value
    files = api(server, f"artifacts/list?run_id={run_id}&path=checkpoint")["files"]
    assert [f["path"] for f in files] == ["checkpoint/model.pt"]


def test_failed_stage_marks_its_run_failed(tmp_path):
    import mlflow

    from genbench import tracking
    from genbench.core.config import MlflowConfig

    uri = f"sqlite:///{tmp_path}/fail.db"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        with pytest.raises(RuntimeError):
            with tracking.run(MlflowConfig(experiment="fail"), model="vae", kind="vae") as run:
                raise RuntimeError("diverged")
        assert mlflow.MlflowClient(uri).get_run(run.run_id).info.status == "FAILED"
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
