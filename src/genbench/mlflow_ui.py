"""`make mlflow-ui`: the MLflow UI of the workspace's tracking database, and the link that opens
the genbench experiment on its runs table.

Why a link to the runs page itself: MLflow 3.17's UI opens an experiment on the view of its
sidebar switch ("GenAI" / "Model training"), which the browser keeps (local storage key
``mlflow.workflowType``, default GenAI: the traces overview), whatever the experiment's
``mlflow.experimentKind`` tag says. The URL parameter ``workflowType=machine_learning``
overrides the switch only on the page it is given to: from the experiments list with it, a
click on "genbench" still opened the GenAI overview (headless Chromium, 2026-12-04), while
``#/experiments/<id>/runs?workflowType=machine_learning`` opens the runs table, each pipeline
run unfolding into its models' runs.

    python -m genbench.mlflow_ui [--db mlflow.db] [--experiment genbench] [--port 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ML_VIEW = "workflowType=machine_learning"


def runs_url(db: Path | str, experiment: str, host: str = "127.0.0.1", port: int = 5000) -> str:
    """The UI's link to ``experiment``'s runs table in the sqlite database ``db``; the
    experiments list (Model training view) when the database or the experiment does not exist
    yet."""
    base = f"http://{host}:{port}/#/experiments"
    db = Path(db)
    if not db.exists():
        return f"{base}?{ML_VIEW}"
    from mlflow import MlflowClient

    exp = MlflowClient(f"sqlite:///{db.resolve()}").get_experiment_by_name(experiment)
    return f"{base}/{exp.experiment_id}/runs?{ML_VIEW}" if exp else f"{base}?{ML_VIEW}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default="mlflow.db", help="the sqlite tracking database")
    p.add_argument("--experiment", default="genbench", help="params.yaml's mlflow.experiment")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    a = p.parse_args(argv)
    url = runs_url(a.db, a.experiment, a.host, a.port)
    note = "" if "/runs?" in url else f" (no {a.experiment} runs in {a.db} yet: make quickstart)"
    print(f"open {url}{note}", flush=True)
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    os.execv(mlflow, [mlflow, "ui", "--backend-store-uri", f"sqlite:///{a.db}", "--host",
                      a.host, "--port", str(a.port)])


if __name__ == "__main__":
    main()
