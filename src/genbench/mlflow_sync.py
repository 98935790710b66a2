"""``make mlflow-sync``: send the workspace's results to an MLflow tracking store without
retraining (``python -m genbench.mlflow_sync``; ``$MLFLOW_TRACKING_URI`` names a team server).

Why: a stage writes its MLflow run when it runs, and a stage DVC finds up to date (or restores
from its cache) does not run, so a server that was not set when the results were made never
gets them. This logs, from the files the pipeline left (params.yaml's selection), what the
stages would have logged: per model its evaluate run (config, training, loss history,
learning curve, metrics, analyses, data set input, model file, sample grid, figures), each
study's run and the claims' verdicts, under the pipeline run of this params.yaml. A run
already there (same model, same pipeline run, FINISHED) is skipped: syncing twice logs once.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from genbench.core.errors import GenbenchError


def _curve_rows(csv_path: Path) -> list[dict]:
    if not csv_path.exists():
        return []
    with open(csv_path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]


def _synced(cfg, model: str) -> bool:
    """A FINISHED run of ``model`` in this pipeline run is already in the store."""
    import mlflow

    from genbench import tracking

    mlflow.set_tracking_uri(tracking.tracking_uri(cfg))
    exp = mlflow.get_experiment_by_name(cfg.experiment)
    if exp is None:
        return False
    key = tracking.pipeline_key("workspace")
    found = mlflow.MlflowClient().search_runs(
        [exp.experiment_id], max_results=1,
        filter_string=f"tags.`genbench.model` = '{model}' and tags.`genbench.pipeline` = "
                      f"'{key}' and attributes.status = 'FINISHED'")
    return bool(found)


def sync(root: Path = Path("."), params_file: str = "params.yaml") -> dict[str, str]:
    """Log every result of ``params_file``'s selection found under ``root``; {name: what
    happened} (logged / already there / missing: the stage has not run)."""
    from genbench import tracking
    from genbench.core.config import STUDIES
    from genbench.core.io import read_json
    from genbench.models.checkpoint import load_model
    from genbench.params import load_params

    params = load_params(root / params_file)
    cfg = params.mlflow
    tracking.check_server(tracking.tracking_uri(cfg))
    done: dict[str, str] = {}
    for m in params.models:
        metrics = root / "metrics" / "models" / f"{m}.json"
        if not metrics.exists():
            done[m] = f"missing (dvc repro evaluate@{m})"
            continue
        if _synced(cfg, m):
            done[m] = "already there"
            continue
        _, rec = load_model(root / "models" / m / "model.pt", m)
        info = root / "models" / m / "train.json"
        analyses = root / "metrics" / "analyses" / f"{m}.json"
        figures = root / "reports" / "analyses" / m
        tracking.log_model_run(
            cfg, model=m, record=rec, train_info=read_json(info) if info.exists() else {},
            losses_csv=root / "models" / m / "losses.csv", model_path=root / "models" / m /
            "model.pt", metrics=read_json(metrics),
            analyses=read_json(analyses) if analyses.exists() else None,
            figures_dir=figures if figures.is_dir() else None,
            grid_path=root / "samples" / m / "grid.png",
            curve=_curve_rows(root / "metrics" / "curves" / f"{m}.csv"),
            data_dir=root / "data" / "processed", budget=params.budget.name,
            train_info_path=info)
        done[m] = "logged"
    for study in STUDIES:
        out = root / "metrics" / f"{study}.json"
        if not out.exists():  # captions: data, no metrics; or a stage not run yet
            continue
        result = read_json(out)
        if result.get("selected") is False or _synced(cfg, study):
            done[study] = "not selected" if result.get("selected") is False else "already there"
            continue
        section = getattr(params, study, None)
        tracking.log_stage_run(cfg, name=study, params={study: section.model_dump()}
                               if section is not None else {}, result=result,
                               artifacts=[out, root / "reports" / study])
        done[study] = "logged"
    claims = root / "reports" / "claims.json"
    if claims.exists() and not _synced(cfg, "claims"):
        from genbench.claims import log_verdicts

        log_verdicts(cfg, read_json(claims), claims)
        done["claims"] = "logged"
    return done


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    try:
        done = sync()
    except GenbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    for name, what in done.items():
        print(f"{name:20s} {what}")
    print(f"{sum(v == 'logged' for v in done.values())} runs logged, "
          f"{sum(v == 'already there' for v in done.values())} already there")


if __name__ == "__main__":
    main()
