"""One extra seed of one model (stage ``seed@<model>-<seed>``): train, sample and evaluate it
in one process with the main chain's settings and only the seed changed, keeping the metrics
(what the claims compare over seeds). The model, samples and figures go to a temporary folder:
a seed's outputs are its numbers. MLflow is off for them (the main chain's run describes the
model); of the analyses, only those the claims read run (``analysis.for_seeds``)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from genbench.core.io import read_json, write_json


def run_seed(train_view, sample_view, evaluate_view, name: str, seed: int, processed_dir,
             evaluator_path, unpaired_path, out: Path | str) -> dict:
    """``{"seed", "metrics", "analyses", "train_seconds", "seconds"}`` of ``name`` trained with
    ``seed`` -> ``out`` (JSON, written atomically)."""
    from genbench.pipeline.evaluate import evaluate
    from genbench.pipeline.sample import sample
    from genbench.pipeline.train import train

    t0 = time.perf_counter()
    tv = train_view.model_copy(update={"seed": seed})
    sv = sample_view.model_copy(update={"seed": seed})
    analysis = evaluate_view.analysis.model_copy(update={
        "anomaly": evaluate_view.analysis.anomaly.model_copy(update={"models": []})})
    ev = evaluate_view.model_copy(update={
        "seed": seed, "analysis": analysis,
        "mlflow": evaluate_view.mlflow.model_copy(update={"enabled": False})})
    with tempfile.TemporaryDirectory(prefix=f"seed-{name}-{seed}-") as tmp:
        t = Path(tmp)
        train(tv, name, processed_dir, t / "model.pt", t / "losses.csv", t / "train.json",
              t / "checkpoint.pt", evaluator_path)
        sample(sv, name, t / "model.pt", t / "samples.pt", t / "grid.png", t / "sample.json",
               processed_dir)
        metrics = evaluate(ev, name, processed_dir, evaluator_path, t / "model.pt",
                           t / "samples.pt", t / "metrics.json", unpaired_path, t / "grid.png",
                           t / "analyses.json", t / "figures",
                           analyses_only=evaluate_view.analysis.for_seeds)
        analyses = read_json(t / "analyses.json")
        info = read_json(t / "train.json")
    result = {"model": name, "seed": seed, "metrics": metrics, "analyses": analyses,
              "train_seconds": info["train_seconds"], "seconds": time.perf_counter() - t0}
    write_json(out, result)
    return result
