"""The GPU path in one short run: a few models trained on CUDA in bf16 through the train and
sample stages, checked to learn, with images/s.

For each model: ``--steps`` engine steps at ``train.device`` / ``train.precision`` (default cuda
/ bf16) on the committed processed data, then 1,000 samples scored by the committed evaluator
(FID in its features, mean top-class confidence), beside the same model's untrained samples.
"Learned" = FID fell to under half the untrained FID and the training loss is finite. Writes
``<out>/gpu.json`` and prints a table; exits 1 when a model did not learn.

    python benchmarks/gpu.py --run . --out /tmp/gpu                       # a CUDA machine
    python benchmarks/gpu.py --run . --out /tmp/gpu --device cpu --precision fp32 --steps 200
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genbench.core.config import SampleView, TrainView, compose_params  # noqa: E402
from genbench.params import load_params  # noqa: E402


def score(run: Path, samples: torch.Tensor) -> dict:
    """FID and mean confidence of uint8 samples in the committed evaluator's features."""
    from genbench import metrics as M
    from genbench.core.config import EvaluatorConfig
    from genbench.evaluator import FeatureExtractor
    from genbench.nn import classifier as NC

    clf = NC.load_classifier(run / "evaluator/classifier.pt")
    ref = NC.load_reference(run / "evaluator/classifier.pt")
    out = FeatureExtractor(clf, EvaluatorConfig())(samples.cpu())
    return {"fid": M.fid(ref["features"], out["features"]),
            "confidence": float(out["conf"].mean())}


def one(run: Path, out: Path, model: str, steps: int, device: str, precision: str) -> dict:
    from genbench.models.checkpoint import load_model
    from genbench.pipeline.sample import sample
    from genbench.pipeline.train import build_model, train

    raw = compose_params([f"model=[{model}]", f"train.device={device}",
                          f"train.precision={precision}", "train.progress=false",
                          "train.threads=0", f"models.{model}.steps={steps}"],
                         conf_dir=ROOT / "conf")
    raw["budget"]["n_samples"] = 1000
    (out / f"{model}.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(out / f"{model}.yaml")
    tv, sv = TrainView.of(params, model), SampleView.of(params, model)
    d = out / model
    d.mkdir(parents=True, exist_ok=True)
    processed = run / "data/processed"
    torch.manual_seed(params.seed)  # the untrained model's samples: the baseline
    from genbench.core import data as D
    from genbench.models.checkpoint import save_model

    untrained = build_model(tv, model, D.load_meta(processed))
    save_model(d / "untrained.pt", untrained, name=model, step=0)
    sample(sv, model, d / "untrained.pt", d / "untrained_samples.pt", d / "untrained.png",
           d / "untrained.json", processed)
    info = train(tv, model, processed, d / "model.pt", d / "losses.csv", d / "train.json",
                 d / "ck.pt", run / "evaluator/classifier.pt")
    sample(sv, model, d / "model.pt", d / "samples.pt", d / "grid.png", d / "sample.json",
           processed)
    before = score(run, torch.load(d / "untrained_samples.pt", weights_only=True)["x"])
    after = score(run, torch.load(d / "samples.pt", weights_only=True)["x"])
    finite = all(torch.isfinite(torch.tensor(v)).item() for v in info["final"].values())
    load_model(d / "model.pt", model)  # the saved file loads back on the CPU
    return {"model": model, "device": info["device"], "precision": info["precision"],
            "steps": info["steps"], "batch_size": info["batch_size"],
            "train_seconds": round(info["train_seconds"], 1),
            "images_per_second": round(info["images_per_second"] or 0),
            "fid_untrained": round(before["fid"], 1), "fid": round(after["fid"], 1),
            "confidence": round(after["confidence"], 3),
            "learned": finite and after["fid"] < 0.5 * before["fid"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=".", help="a repository with data/ and evaluator/ built")
    p.add_argument("--out", required=True)
    p.add_argument("--models", default="vae,dcgan,pixelcnn")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--device", default="cuda")
    p.add_argument("--precision", default="bf16")
    a = p.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("gpu.py: no CUDA device on this machine (torch.cuda.is_available() is False); "
              "--device cpu runs the same check on the CPU", file=sys.stderr)
        return 2
    run, out = Path(a.run).resolve(), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [one(run, out, m, a.steps, a.device, a.precision) for m in a.models.split(",")]
    machine = {"torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
               "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    (out / "gpu.json").write_text(json.dumps({"machine": machine, "runs": rows}, indent=1))
    print(machine)
    for r in rows:
        print("  ".join(f"{k}={v}" for k, v in r.items()))
    return 0 if all(r["learned"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
