"""MLflow tracking, imported lazily (mlflow costs ~2 s of imports per stage).

One MLflow run per model per experiment: the train stage creates it (tags: model, kind, DVC
experiment name), the sample and evaluate stages reopen it by the run id stored in the model
file. The tracking URI defaults to ``sqlite:///<repo>/mlflow.db`` and artifacts to
``<repo>/mlartifacts``, both absolute and built from ``$DVC_ROOT`` so that ``dvc exp run
--temp/--queue`` runs land in the repository's database, not in a deleted temp copy.
``$MLFLOW_TRACKING_URI`` overrides the URI (e.g. a tracking server).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

from genbench.core.config import MlflowConfig, repo_root


def main_repo_root() -> Path:
    """The user's repository, also from inside an experiment's temp copy (``--temp``/``--queue``
    run in ``<repo>/.dvc/tmp/exps/<tmp>``, which is deleted afterwards)."""
    root = repo_root()
    parts = root.parts
    for i in range(len(parts) - 2):
        if parts[i:i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return root


def tracking_uri(cfg: MlflowConfig) -> str:
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if cfg.tracking_uri:
        return cfg.tracking_uri
    return f"sqlite:///{main_repo_root() / 'mlflow.db'}"


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


class Run:
    """A thin handle over an active MLflow run; a no-op when tracking is disabled."""

    def __init__(self, mlflow=None, run_id: str | None = None):
        self._m, self.run_id = mlflow, run_id

    def log_params(self, params: dict) -> None:
        if self._m:
            flat = {k: str(v)[:6000] for k, v in flatten(params).items()}
            items = list(flat.items())
            for i in range(0, len(items), 90):  # MLflow takes at most 100 params per batch
                self._m.log_params(dict(items[i:i + 90]))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if self._m:
            clean = {k.replace("/", "."): float(v) for k, v in metrics.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"}
            self._m.log_metrics(clean, step=step)

    def log_artifact(self, path: Path | str, folder: str | None = None) -> None:
        if self._m:
            self._m.log_artifact(str(path), artifact_path=folder)

    def log_artifacts(self, folder_path: Path | str, folder: str | None = None) -> None:
        if self._m:
            self._m.log_artifacts(str(folder_path), artifact_path=folder)

    def set_tags(self, tags: dict[str, str]) -> None:
        if self._m:
            self._m.set_tags(tags)


def _experiment_id(mlflow, cfg: MlflowConfig) -> str:
    exp = mlflow.get_experiment_by_name(cfg.experiment)
    if exp is not None:
        return exp.experiment_id
    uri = mlflow.get_tracking_uri()
    # A local database gets an absolute artifact root beside it; a server chooses its own.
    location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri() \
        if uri.startswith("sqlite:///") else None
    try:
        return mlflow.create_experiment(cfg.experiment, artifact_location=location)
    except Exception:  # noqa: BLE001 - created concurrently by a parallel stage
        return mlflow.get_experiment_by_name(cfg.experiment).experiment_id


@contextlib.contextmanager
def _sqlite_setup_lock(uri: str) -> Iterator[None]:
    """An exclusive lock (a file beside the database) around opening a sqlite store: the first
    access to a new database creates its tables through Alembic, and two stages of `make repro`
    doing it at once fail ("Online migration expected to match one row"). Later writes are
    short transactions that sqlite itself serialises."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    lock = Path(uri.removeprefix("sqlite:///") + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def run(cfg: MlflowConfig, *, model: str, kind: str, run_id: str | None = None) -> Iterator[Run]:
    """Open (``run_id`` given and found) or start the model's run. An exception inside marks it
    FAILED; a normal exit marks it FINISHED."""
    if not cfg.enabled:
        yield Run()
        return
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    import mlflow

    uri = tracking_uri(cfg)
    mlflow.set_tracking_uri(uri)
    with _sqlite_setup_lock(uri):  # stages side by side: one creates the tables, not two
        exp_id = _experiment_id(mlflow, cfg)
        if run_id is not None:
            try:
                mlflow.get_run(run_id)
            except Exception:  # noqa: BLE001 - e.g. a fresh database on another machine
                run_id = None
        exp_name = os.environ.get("DVC_EXP_NAME", "workspace")
        tags = {"genbench.model": model, "genbench.kind": kind, "dvc.exp_name": exp_name}
        active = mlflow.start_run(run_id=run_id, experiment_id=exp_id,
                                  run_name=None if run_id else f"{model}@{exp_name}", tags=tags)
    status = "FAILED"
    try:
        yield Run(mlflow, active.info.run_id)
        status = "FINISHED"
    finally:
        mlflow.end_run(status=status)
