"""Every model config of conf/model through the real stage functions, in one process: train →
sample → evaluate (metrics + the analyses that apply) on the tiny digits split at the smoke
budget, against one evaluator trained here. What the whole-DAG test (test_pipeline.py) proves
for one model per kind through DVC, this proves for every variant without a process per stage.

The cost knobs of the Markov-chain and likelihood estimates are shrunk (test_models.CHEAP):
the code paths are the same, only the chains and AIS schedules are shorter.
"""

from __future__ import annotations

import json
import math

import pytest
import yaml
from conftest import ROOT
from test_models import VARIANTS, cheap_section
from test_pipeline import all_numbers

from genbench.core import config as C
from genbench.core.config import load_params
from genbench.pipeline.evaluate import evaluate
from genbench.pipeline.prepare import train_evaluator
from genbench.pipeline.sample import sample
from genbench.pipeline.train import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def judged(digits_workdir, tmp_path_factory):
    """The digits work dir's params (MLflow off) and an evaluator trained on it at the smoke
    budget, with the unpaired domain's."""
    w = tmp_path_factory.mktemp("every")
    raw = yaml.safe_load((digits_workdir / "params.yaml").read_text())
    raw["mlflow"]["enabled"] = False
    (w / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(w / "params.yaml")
    data = digits_workdir / "data" / "processed"
    train_evaluator(C.EvaluatorView.of(params), data, w / "clf.pt", w / "evaluator.json",
                    w / "clf_ck.pt", w / "unpaired.pt")
    return w, raw, data


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_config_trains_samples_and_evaluates(variant, judged):
    w, raw, data = judged
    raw = {**raw, "models": {variant: cheap_section(variant)}, "seeded": {}}
    (w / f"{variant}.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(w / f"{variant}.yaml")
    d = w / variant
    info = train(C.TrainView.of(params, variant), variant, data, d / "model.pt",
                 d / "losses.csv", d / "train.json", d / "ck.pt", w / "clf.pt", d / "curve.pt")
    assert info["steps"] <= params.budget.max_steps and info["precision"] in ("fp32", "bf16")
    s = sample(C.SampleView.of(params), variant, d / "model.pt", d / "samples.pt",
               d / "grid.png", d / "sample.json", data)
    assert s["n"] > 0 and (d / "grid.png").stat().st_size > 0
    out = evaluate(C.EvaluateView.of(params), variant, data, w / "clf.pt", d / "model.pt",
                   d / "samples.pt", d / "metrics.json", w / "unpaired.pt", d / "grid.png",
                   d / "analyses.json", d / "figures", curve_path=d / "curve.pt",
                   out_curve=d / "curve.csv")
    assert {"fid", "kid", "is", "precision", "recall", "classes_covered"} <= set(out)
    # the gate is judged for every model; the learning curve has its points (none without
    # training steps), each scored on the curve's samples
    assert isinstance(out["collapsed"], bool) and out["reads_as_digits"] in (True, False, None)
    points = params.train.curve_points if info["steps"] else 0
    rows = (d / "curve.csv").read_text().splitlines()
    assert out["curve"]["points"] == points == len(rows) - 1, rows
    assert all(math.isfinite(v) for v in all_numbers(out)), out
    analyses = json.loads((d / "analyses.json").read_text())
    assert all(math.isfinite(v) for v in all_numbers(analyses)), analyses
    every = ("interpolation", "inpainting", "latent", "tangents", "probe", "robustness",
             "anomaly", "finetune")
    assert all((a in analyses) != (a in analyses["skipped"]) for a in every), analyses["skipped"]
    if "interpolation" in analyses:
        assert (d / "figures" / "interpolation.png").stat().st_size > 0


def test_the_variants_cover_the_default_selection(root):
    selected = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    assert set(selected) <= set(VARIANTS)
