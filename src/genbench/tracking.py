"""MLflow tracking, imported lazily (mlflow costs ~2 s of imports per stage).

One MLflow run per evaluated model (tags: model, kind, DVC experiment name), written at the end
of its ``evaluate@<model>`` stage by :func:`log_model_run`: the model's resolved config and
training settings as params, its loss history (``losses.csv``, one point per ``log_every``
steps) and training time, the metrics and analyses, the model file, the sample grid and the
analysis figures. Why there and not during training: MLflow costs ~3 s per process (imports and
store set-up), the train stage then needs none, and the model file holds no run id, so the same
weights give the same bytes. The tracking URI defaults to ``sqlite:///<repo>/mlflow.db`` and artifacts to
``<repo>/mlartifacts``, both absolute and built from ``$DVC_ROOT`` so that ``dvc exp run
--temp/--queue`` runs land in the repository's database, not in a deleted temp copy.
``$MLFLOW_TRACKING_URI`` overrides the URI (e.g. a tracking server: ``make mlflow-server``).

Concurrent writers (``make repro``'s parallel chains, ``dvc queue start -j N``) on the sqlite
store: the database runs in WAL mode (readers never block the writer; set once, it stays in the
file), Python's sqlite driver waits up to 5 s for the write lock, and a write that still finds
the database locked is retried with backoff for up to 5 minutes (:func:`_retrying`). A team shares a tracking
server instead, whose database serialises writers itself.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
import warnings
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


def check_server(uri: str, timeout_s: float = 5.0) -> None:
    """For an ``http(s)://`` tracking URI: one TCP connection within ``timeout_s``, or a
    one-line :class:`ConfigError` (MLflow's own client retries an unreachable server for
    minutes, with a traceback per attempt, after the stage's work is done)."""
    import socket
    from urllib.parse import urlsplit

    from genbench.core.errors import ConfigError

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            pass
    except OSError as err:
        why = "no answer" if isinstance(err, TimeoutError) else (err.strerror or str(err))
        raise ConfigError(f"MLflow tracking server {uri}: not reachable ({why} within "
                          f"{timeout_s:g} s); start it (make mlflow-server), or unset "
                          f"MLFLOW_TRACKING_URI / set mlflow.enabled=false") from None


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


LOCKED = ("database is locked", "database table is locked")


def _retrying(fn, *args, budget_s: float = 300.0, **kwargs):
    """``fn(*args, **kwargs)``, retried with backoff while sqlite says the database is locked
    (another process holds the write lock longer than the busy timeout)."""
    import random
    import time

    deadline, wait = time.monotonic() + budget_s, 0.05
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # MLflow wraps SQLAlchemy's OperationalError
            if not any(m in str(err) for m in LOCKED) or time.monotonic() > deadline:
                raise
            time.sleep(wait * (1 + random.random()))
            wait = min(wait * 2, 2.0)


def _sqlite_wal(uri: str) -> None:
    """Put the sqlite store in WAL mode (persistent in the file)."""
    if not uri.startswith("sqlite:///"):
        return
    import sqlite3

    con = sqlite3.connect(uri.removeprefix("sqlite:///"), timeout=30)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()


class Run:
    """A thin handle over an active MLflow run; a no-op when tracking is disabled. Every write
    is retried while a concurrent writer holds the sqlite lock."""

    def __init__(self, mlflow=None, run_id: str | None = None):
        self._m, self.run_id = mlflow, run_id

    def log_params(self, params: dict) -> None:
        if self._m:
            flat = {k: str(v)[:6000] for k, v in flatten(params).items()}
            items = list(flat.items())
            for i in range(0, len(items), 90):  # MLflow takes at most 100 params per batch
                _retrying(self._m.log_params, dict(items[i:i + 90]))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if self._m:
            clean = {k.replace("/", "."): float(v) for k, v in metrics.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step"}
            _retrying(self._m.log_metrics, clean, step=step)

    def log_history(self, points: list[tuple[int, str, float]]) -> None:
        """Metric points ``(step, key, value)`` in batches (one call per point would be one
        database transaction per point)."""
        if self._m and points:
            import time

            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            client = self._m.MlflowClient()
            ms = [Metric(k.replace("/", "."), v, now, step) for step, k, v in points]
            for i in range(0, len(ms), 1000):  # MLflow's limit per batch
                _retrying(client.log_batch, self.run_id, metrics=ms[i:i + 1000])

    def log_artifact(self, path: Path | str, folder: str | None = None) -> None:
        if self._m:
            self._m.log_artifact(str(path), artifact_path=folder)

    def log_artifacts(self, folder_path: Path | str, folder: str | None = None) -> None:
        if self._m:
            self._m.log_artifacts(str(folder_path), artifact_path=folder)

    def set_tags(self, tags: dict[str, str]) -> None:
        if self._m:
            _retrying(self._m.set_tags, tags)


#: the experiment's kind: MLflow 3 versions without the UI's "GenAI / Model training" switch
#: open a "custom_model_development" experiment on its runs table; 3.17 follows the switch
#: (the browser's choice, or ?workflowType=machine_learning: the link `make mlflow-ui` prints)
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def _experiment_id(mlflow, cfg: MlflowConfig) -> str:
    exp = mlflow.get_experiment_by_name(cfg.experiment)
    if exp is None:
        uri = mlflow.get_tracking_uri()
        # A local database gets an absolute artifact root beside it; a server its own.
        location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri() \
            if uri.startswith("sqlite:///") else None
        try:
            mlflow.create_experiment(cfg.experiment, artifact_location=location,
                                     tags=EXPERIMENT_KIND)
        except Exception:  # noqa: BLE001, S110 - created concurrently by a parallel stage:
            pass  # the lookup below finds that one
        exp = mlflow.get_experiment_by_name(cfg.experiment)
    for k, v in EXPERIMENT_KIND.items():
        if exp.tags.get(k) != v:  # an experiment made before the tag
            mlflow.MlflowClient().set_experiment_tag(exp.experiment_id, k, v)
    return exp.experiment_id


def pipeline_key(exp_name: str, params_file: Path | str = "params.yaml") -> str:
    """What one pipeline run is: the DVC experiment (``$DVC_EXP_NAME``: one per `dvc exp
    run`), or in the workspace (`dvc repro`, `make repro`) the params.yaml it runs (its sha256,
    12 hex digits): the stages of one run share it, another config gets another."""
    if exp_name != "workspace":
        return exp_name
    import hashlib

    f = Path(params_file)
    digest = hashlib.sha256(f.read_bytes()).hexdigest()[:12] if f.exists() else "unknown"
    return f"workspace-{digest}"


def _parent_run(mlflow, exp_id: str, key: str, start_ms: int | None = None) -> str:
    """The run that groups one pipeline run's runs (MLflow nests a run under the run its
    ``mlflow.parentRunId`` tag names): found by its ``genbench.pipeline`` tag, else created
    (FINISHED at once: it holds no numbers, its children do) with the first child's start time
    (``start_ms``: its training's start), so that MLflow's Duration column spans the pipeline run
    (:func:`_extend_parent` moves its end to each child's). Called under the setup lock, so two
    stages side by side find one parent, not two."""
    client = mlflow.MlflowClient()
    found = client.search_runs([exp_id], filter_string=f"tags.`genbench.pipeline` = '{key}' "
                                                        f"and tags.`genbench.kind` = 'pipeline'",
                               max_results=1)
    if found:
        return found[0].info.run_id
    parent = client.create_run(exp_id, start_time=start_ms, run_name=f"pipeline@{key}",
                               tags={"genbench.pipeline": key, "genbench.kind": "pipeline",
                                     "dvc.exp_name": os.environ.get("DVC_EXP_NAME",
                                                                    "workspace")})
    client.set_terminated(parent.info.run_id, status="FINISHED",
                          end_time=parent.info.start_time)
    return parent.info.run_id


def _extend_parent(mlflow, parent_id: str, end_ms: int) -> None:
    """The pipeline run ends when its last child does (MLflow keeps a run's start time fixed;
    its end time can move)."""
    client = mlflow.MlflowClient()
    if (client.get_run(parent_id).info.end_time or 0) < end_ms:
        client.set_terminated(parent_id, status="FINISHED", end_time=end_ms)


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


def _end_stale_runs(mlflow, exp_id: str, model: str, exp_name: str) -> None:
    """Mark KILLED the runs of this model and DVC experiment still RUNNING: their process died
    (kill -9, power loss) before it could end them. One experiment evaluates a model in one
    process at a time, so a RUNNING one found here is dead, not a live neighbour."""
    client = mlflow.MlflowClient()
    stale = client.search_runs(
        [exp_id], filter_string=f"tags.`genbench.model` = '{model}' and "
                                f"tags.`dvc.exp_name` = '{exp_name}' and attributes.status = 'RUNNING'")
    for r in stale:
        client.set_terminated(r.info.run_id, status="KILLED")


@contextlib.contextmanager
def run(cfg: MlflowConfig, *, model: str, kind: str, run_id: str | None = None,
        start_ms: int | None = None, end_ms: int | None = None) -> Iterator[Run]:
    """Open (``run_id`` given and found) or start the model's run, nested under its pipeline
    run (:func:`_parent_run`). An exception inside marks it FAILED; a normal exit marks it
    FINISHED. ``start_ms``/``end_ms`` (epoch milliseconds): the run's times when the work it
    records happened before this process (the training: MLflow's Duration column is then the
    training time, not the seconds spent logging)."""
    if not cfg.enabled:
        yield Run()
        return
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    import mlflow

    uri = tracking_uri(cfg)
    check_server(uri)
    mlflow.set_tracking_uri(uri)
    with _sqlite_setup_lock(uri):  # stages side by side: one creates the tables, not two
        exp_id = _experiment_id(mlflow, cfg)
        _sqlite_wal(uri)
        if run_id is not None:
            try:
                mlflow.get_run(run_id)
            except Exception:  # noqa: BLE001 - e.g. a fresh database on another machine
                run_id = None
        exp_name = os.environ.get("DVC_EXP_NAME", "workspace")
        _end_stale_runs(mlflow, exp_id, model, exp_name)
        key = pipeline_key(exp_name)
        parent_id = _retrying(_parent_run, mlflow, exp_id, key, start_ms)
        tags = {"genbench.model": model, "genbench.kind": kind, "dvc.exp_name": exp_name,
                "genbench.pipeline": key, "mlflow.parentRunId": parent_id}
        if run_id is None:  # created with its start time, then made the active run
            run_id = _retrying(mlflow.MlflowClient().create_run, exp_id, start_time=start_ms,
                               tags=tags, run_name=f"{model}@{exp_name}").info.run_id
        active = _retrying(mlflow.start_run, run_id=run_id)
    status = "FAILED"
    try:
        yield Run(mlflow, active.info.run_id)
        status = "FINISHED"
    finally:
        _retrying(mlflow.end_run, status=status)
        if end_ms is not None:
            _retrying(mlflow.MlflowClient().set_terminated, active.info.run_id, status, end_ms)
        with _sqlite_setup_lock(uri):  # two children ending at once: the later end wins
            _retrying(_extend_parent, mlflow, parent_id,
                      end_ms if end_ms is not None else int(time.time() * 1000))


def _history(losses_csv: Path) -> list[tuple[int, str, float]]:
    """``(step, key, value)`` of every logged training loss (empty cells skipped)."""
    import csv

    rows = []
    with open(losses_csv, newline="") as f:
        for row in csv.DictReader(f):
            step = int(row.pop("step"))
            rows += [(step, k, float(v)) for k, v in row.items() if v not in ("", None)]
    return rows


def log_model_run(cfg: MlflowConfig, *, model: str, record: dict, train_info: dict,
                  losses_csv: Path | str | None, model_path: Path | str, metrics: dict,
                  analyses: dict | None = None, figures_dir: Path | str | None = None,
                  grid_path: Path | str | None = None,
                  curve: list[dict] | None = None, data_dir: Path | str | None = None,
                  budget: str | None = None, train_info_path: Path | str | None = None
                  ) -> str | None:
    """One run for the evaluated ``model`` (``record``: its model file's record: kind, config,
    step); returns the run id (None when tracking is disabled). ``curve``: the learning curve's
    rows (:mod:`genbench.pipeline.curve`), logged as ``curve.<metric>`` histories over the
    training step. ``data_dir`` (data/processed): the data set as params and as the run's
    dataset input; ``budget``: the budget's name; ``train_info_path`` (train.json, written when
    training ended): the run spans the training (end = that file's time, start = end minus
    ``train_seconds``), so MLflow's Duration is the training time."""
    start_ms = end_ms = None
    if train_info_path is not None and Path(train_info_path).exists() \
            and isinstance(train_info.get("train_seconds"), (int, float)):
        end_ms = int(Path(train_info_path).stat().st_mtime * 1000)
        start_ms = end_ms - int(train_info["train_seconds"] * 1000)
    with run(cfg, model=model, kind=record["kind"], start_ms=start_ms, end_ms=end_ms) as r:
        if r._m is None:
            return None
        data = _data_input(r, Path(data_dir)) if data_dir is not None else {}
        r.log_params({"model": record["config"], "seed": train_info.get("seed"),
                      "train": {k: train_info.get(k) for k in
                                ("steps", "batch_size", "precision", "threads", "nproc",
                                 "device")},
                      **({"data": data} if data else {}),
                      **({"budget": budget} if budget else {})})
        if losses_csv is not None and Path(losses_csv).exists():
            r.log_history(_history(Path(losses_csv)))
        if curve:
            r.log_history([(int(row["step"]), f"curve.{k}", float(v)) for row in curve
                           for k, v in row.items() if k != "step" and isinstance(v, (int, float))
                           and not isinstance(v, bool) and math.isfinite(v)])
        r.log_metrics({"train_seconds": train_info.get("train_seconds", float("nan")),
                       **flatten(metrics)})
        if analyses is not None:
            r.log_metrics(flatten(analyses, "analysis."))
        r.log_artifact(model_path, "checkpoint")
        if grid_path is not None:
            r.log_artifact(grid_path, "samples")
        if figures_dir is not None and Path(figures_dir).is_dir():
            r.log_artifacts(figures_dir, "analysis")
        return r.run_id



def _data_input(r: Run, data_dir: Path) -> dict:
    """The processed data set (data/processed/meta.json: name, split sizes, the train split's
    sha256) as the run's MLflow dataset input (context "training"; the UI's Dataset column);
    returns it as params."""
    from genbench.core.io import read_json

    meta_file = data_dir / "meta.json"
    if not meta_file.exists():
        return {}
    meta = read_json(meta_file, fix="rerun the preprocess stage: dvc repro preprocess")
    digest = str((meta.get("sha256") or {}).get("train.pt", ""))[:12] or None
    params = {"name": meta.get("dataset"), **{f"{k}_size": v for k, v in
                                              (meta.get("sizes") or {}).items()},
              "train_sha256": digest}
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():
        # MLflow 3.17 registers LocalArtifactDatasetSource for the schemes "" and "file" alike
        # (mlflow/data/artifact_dataset_sources.py) and warns that a local path matches both
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
        source = resolve_dataset_source(str(data_dir.resolve()))
    dataset = MetaDataset(source, name=str(meta.get("dataset")), digest=digest)
    _retrying(r._m.log_input, dataset, context="training")
    return params


def log_stage_run(cfg: MlflowConfig, *, name: str, params: dict, result: dict,
                  artifacts: list[Path | str] = ()) -> None:
    """MLflow: one run tagged genbench.model=<name>, genbench.kind=analysis for a stage that
    is not a model (cluster, arithmetic, tangent_prop, text): its settings as params, every
    number of its metrics JSON as a metric (flattened keys), the JSON and figures as artifacts."""
    with run(cfg, model=name, kind="analysis") as r:
        r.log_params(flatten(params))
        # MLflow keys: letters, digits, _ - . / : and space ("(baseline)" → "_baseline_")
        r.log_metrics({re.sub(r"[^/\w.\- :]", "_", k): float(v)
                       for k, v in flatten(result).items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(v)})
        for a in artifacts:
            p = Path(a)
            if p.is_dir():
                r.log_artifacts(p, p.name)
            elif p.exists():
                r.log_artifact(p)
