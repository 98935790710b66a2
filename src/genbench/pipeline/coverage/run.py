"""Stage ``coverage``: density and coverage (Naeem et al. 2020; :func:`genbench.metrics.
density_coverage`) of every selected model's stored outputs, beside the precision and recall
its evaluate stage measured on the same images against the same reference subset, and of the
held-out real images (the floor, drawn as the evaluator stage draws it).

Why a stage of its own: precision and recall reward a few prototypes (a collapsed model's
samples all fall inside the real manifold: precision 1.0), density and coverage do not. They
need the models' stored outputs and the evaluator's features only, so adding them reruns
neither a training nor an evaluate stage. The images scored are those the evaluate stage
scored: the first ``n`` samples (n from the model's metrics file), a translation model's
translations of the test inputs (CycleGAN: those into this data set's domain).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from genbench.core import data as D
from genbench.core.config import CoverageView
from genbench.core.io import read_json, torch_load, write_json
from genbench.models.registry import model_class, role_of
from genbench.nn import classifier as NC

log = logging.getLogger("genbench.coverage")


def _outputs(kind: str, stored: dict, n: int) -> torch.Tensor:
    """The uint8 images (N, C, H, W) the model's evaluate stage scored."""
    cls = model_class(kind)
    if cls.unpaired:
        return stored["b_x"]  # F(b): the translations into this data set's domain
    return stored["x"] if cls.translates else stored["x"][:n]


def coverage(params: CoverageView, processed_dir, evaluator_path, evaluator_metrics,
             samples_dir, metrics_dir, out) -> dict:
    """metrics/coverage.json: per model (and the floor) density, coverage, and the precision,
    recall and gate of its metrics file; ``k`` = ``evaluator.pr_k`` (as precision/recall)."""
    from genbench import evaluator as E
    from genbench import metrics as M

    t0, k, seed = time.perf_counter(), params.evaluator.pr_k, params.seed
    extract = E.FeatureExtractor(NC.load_classifier(evaluator_path), params.evaluator)
    ref = NC.load_reference(evaluator_path)["features"]

    def scores(images: torch.Tensor) -> tuple[float, float]:  # against P/R's real subset
        real = ref[E.reference_subset(len(ref), len(images), seed)]
        return M.density_coverage(real, extract(images)["features"], k)

    rows = {}
    for name, section in params.models.items():
        m = read_json(Path(metrics_dir) / f"{name}.json",
                      fix=f"rerun its evaluate stage: dvc repro evaluate@{name}")
        stored = torch_load(Path(samples_dir) / name / "samples.pt",
                            fix=f"resample: dvc repro -f sample@{name}")
        images = _outputs(section["kind"], stored, m["n"])
        density, cov = scores(images)
        rows[name] = {"kind": section["kind"], "role": role_of(section["kind"],
                                                               "class_accuracy" in m),
                      "n": len(images), "density": density,
                      "coverage": cov, "precision": m.get("precision"), "recall": m.get("recall"),
                      "reads_as_digits": m.get("reads_as_digits"),
                      "collapsed": m.get("collapsed")}
        log.info("%s: density %.3f, coverage %.3f (precision %.3f, recall %.3f)", name, density,
                 cov, m.get("precision", float("nan")), m.get("recall", float("nan")))
    # the floor: the held-out real images the evaluator stage scored, drawn the same way
    n = read_json(evaluator_metrics, fix="rerun the evaluator stage: dvc repro evaluator")[
        "floor"]["n"]
    heldout = torch.cat([D.load_split(processed_dir, "val").x,
                         D.load_split(processed_dir, "test").x])
    density, cov = scores(heldout[E.heldout_pick(len(heldout), n, seed)])
    result = {"k": k, "models": rows,
              "floor": {"n": n, "density": density, "coverage": cov},
              "seconds": time.perf_counter() - t0}
    write_json(out, result)
    return result
