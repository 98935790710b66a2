"""Every model config of conf/model through the real stage functions, in one process: train →
sample → evaluate (metrics + the analyses that apply) on the tiny digits split at the smoke
budget, against one evaluator trained here. What the whole-DAG test (test_pipeline.py) proves
for one model per kind through DVC, this proves for every variant without a process per stage.

The cost knobs of the Markov-chain and likelihood estimates are shrunk (test_models.CHEAP):
the code paths are the same, only the chains and AIS schedules are shorter.

The golden digests: each variant's weights, samples, losses, learning curve, metrics and
analyses (timings left out) are hashed, and compared with ``tests/golden/<machine>.json`` when
that file exists for this machine (CPU model and instruction set, torch, threads: float results
differ between them). A refactor that keeps every digest is behaviour-preserving, and its stages
are recorded with ``dvc commit`` instead of rerun (docs/development.md); ``make golden`` writes
the file from the code checked out.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import platform
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, VARIANTS, all_numbers, cheap_section

from genbench.core import config as C
from genbench.params import load_params
from genbench.pipeline.evaluate import evaluate
from genbench.pipeline.prepare import train_evaluator
from genbench.pipeline.sample import sample
from genbench.pipeline.train import train

pytestmark = pytest.mark.slow
GOLDEN = ROOT / "tests" / "golden"
DIGESTS: dict[str, dict[str, str]] = {}  # variant -> its outputs' digests, filled as they run


def machine_key() -> str:
    """What float results depend on: the CPU model and its matrix instructions, torch, threads."""
    import torch

    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((ln.split(":", 1)[1] for ln in info.splitlines() if ln.startswith("model name")),
                 platform.processor() or platform.machine())
    flags = set(next((ln.split(":", 1)[1] for ln in info.splitlines()
                      if ln.startswith("flags")), "").split())
    isa = "-".join(f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if f in flags)
    name = "-".join(w for w in "".join(c if c.isalnum() else " " for c in model).lower().split()
                    if w not in ("r", "tm", "processor", "cpu"))
    return f"{name}_{isa}_torch{torch.__version__.split('+')[0]}_threads{torch.get_num_threads()}"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _untimed(obj):
    """``obj`` without its timings (keys naming seconds), which differ run to run."""
    if isinstance(obj, dict):
        return {k: _untimed(v) for k, v in obj.items() if "seconds" not in k}
    if isinstance(obj, list):
        return [_untimed(v) for v in obj]
    return obj


def digests(d: Path, metrics: dict) -> dict[str, str]:
    """The digests of one variant's outputs in its folder ``d``."""
    import torch

    state = torch.load(d / "model.pt", weights_only=False)["state"]
    samples = torch.load(d / "samples.pt", weights_only=False)
    buf = io.BytesIO()
    for k in sorted(state):
        buf.write(k.encode() + state[k].numpy().tobytes())
    rows = [ln.split(",") for ln in (d / "curve.csv").read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if "seconds" not in name]
    curve = [[row[i] for i in keep] for row in rows]
    return {
        "weights": _sha(buf.getvalue()),
        "samples": _sha(b"".join(samples[k].numpy().tobytes() for k in sorted(samples)
                                 if torch.is_tensor(samples[k]))),
        "losses": _sha((d / "losses.csv").read_bytes()),
        "curve": _sha(json.dumps(curve).encode()),
        "metrics": _sha(json.dumps(_untimed(metrics), sort_keys=True).encode()),
        "analyses": _sha(json.dumps(_untimed(json.loads((d / "analyses.json").read_text())),
                                    sort_keys=True).encode()),
    }


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
    # CHEAP is this test's cost knob: the smoke budget's own per-model settings stay out, so the
    # golden digests depend on the variant's conf file and CHEAP only
    raw = {**raw, "models": {variant: cheap_section(variant)}, "seeded": {},
           "budget": {**raw["budget"], "models": {}}}
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
    DIGESTS[variant] = digests(d, out)


def test_golden_digests_are_unchanged():
    """Every variant that ran above gives the committed digests of this machine, or the file
    is written (``GENBENCH_WRITE_GOLDEN=1``, what ``make golden`` sets)."""
    path = GOLDEN / f"{machine_key()}.json"
    if not DIGESTS:
        pytest.skip("no variant ran in this session")
    if os.environ.get("GENBENCH_WRITE_GOLDEN") == "1":
        old = json.loads(path.read_text()) if path.exists() else {}
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps({**old, **DIGESTS}, indent=1, sort_keys=True) + "\n")
        return
    if not path.exists():
        pytest.skip(f"no golden digests for this machine ({path.name}): `make golden` on the "
                    "commit to compare against writes them")
    golden = json.loads(path.read_text())
    changed = {v: [k for k in d if golden.get(v, {}).get(k) != d[k]]
               for v, d in DIGESTS.items() if v in golden and golden[v] != d}
    assert not changed, f"outputs changed against {path.name}: {changed}"
    missing = sorted(set(DIGESTS) - set(golden))
    assert not missing, f"{path.name} has no digests of {missing}: `make golden` adds them"


def test_the_variants_cover_the_default_selection(root):
    selected = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    assert set(selected) <= set(VARIANTS)
