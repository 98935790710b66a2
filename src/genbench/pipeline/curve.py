"""A model's learning curve, measured by its ``evaluate@<model>`` stage from the snapshots its
train stage kept (``train.curve_points`` evenly spaced steps, :func:`genbench.core.engine.fit`).

Each snapshot is loaded into the model, made ready to sample (:meth:`prepare_sampling`: an
autoencoder's code density), sampled with the evaluation's seed (``budget.curve_samples``
images, or a translation model's translations of the test split) and judged by the same code
as the final samples: FID, precision, recall, the evaluator's confidence and class shares (and
the class accuracy of conditional samples); the exact test NLL where the model has one. The
x axes are the training's seconds up to that step, wall and CPU (1 thread: equal up to the
process's own overhead).

FID from a few hundred samples is biased upward against the 1,000-sample figure of the metrics
table: the curve compares a model's points with each other, not with that table.
"""

from __future__ import annotations

import copy
import csv
import io

import torch

from genbench.core import transforms as T
from genbench.core.errors import DataError
from genbench.core.io import torch_load, write_text

#: per point, in column order (absent keys are empty cells)
COLUMNS = ("step", "seconds", "cpu_seconds", "n", "fid", "precision", "recall",
           "mean_confidence", "min_class_share", "classes_covered", "class_accuracy", "nll_nats")


def load_points(path) -> list[dict]:
    rec = torch_load(path, fix="retrain it: dvc repro -f train@<model>")
    if not isinstance(rec, dict) or "points" not in rec:
        raise DataError(f"{path}: not a genbench learning-curve file; retrain the model")
    return rec["points"]


@torch.no_grad()
def _test_nll(model, test) -> float:
    """Mean exact test NLL (nats per image) over the whole test split."""
    tf = T.eval_transform(model.input_transform)
    x = tf.prepare(test.x)
    total = sum(float(model.test_log_likelihood(tf.batch(x[i:i + 250]), test.y[i:i + 250])
                      .double().sum()) for i in range(0, len(x), 250))
    return -total / len(x)


def measure(model, points: list[dict], judge, train, test, n: int, seed: int) -> list[dict]:
    """One row per snapshot (``points``: :func:`load_points`). ``judge(model, n, generator)``
    draws and scores the model's samples as the evaluation does (its metrics dict);
    ``train``/``test``: the splits (codes' density fitted on train, NLL on test)."""
    tf = T.get(model.input_transform)
    x_train = tf.batch(tf.prepare(train.x))  # what the engine passes on_train_end
    rows = []
    for p in points:
        m = copy.deepcopy(model)
        m.load_state_dict(p["state"])
        torch.manual_seed(seed)  # samplers drawing from the global stream: the same per point
        m.prepare_sampling(x_train, train.y)
        metrics = judge(m, n, torch.Generator().manual_seed(seed))
        row = {"step": p["step"], "seconds": p["seconds"], "cpu_seconds": p["cpu_seconds"],
               "n": metrics["n"], "min_class_share": min(metrics["class_hist"]),
               **{k: metrics[k] for k in COLUMNS if k in metrics}}
        if model.likelihood == "exact":
            row["nll_nats"] = _test_nll(m, test)
        rows.append(row)
    return rows


def to_csv(rows: list[dict]) -> str:
    """The curve as CSV (the DVC plot): a header, then one row per point."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in COLUMNS})
    return buf.getvalue()


def write_csv(path, rows: list[dict]) -> None:
    write_text(path, to_csv(rows))
