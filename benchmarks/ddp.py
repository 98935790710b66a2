"""1 vs N data-parallel processes (train.nproc) on this machine: images/s and loss curves.

Trains each model through the train stage (torchrun + DDP with N > 1) on the committed
processed data, with its configured batch size (the global batch) and ``--steps`` steps, and
writes ``<out>/ddp.csv`` (model, nproc, threads, seconds, images/s, last-10-points means),
``<out>/<model>_curves.csv`` and ``<out>/ddp_curves.png`` (the curves side by side).

    python benchmarks/ddp.py --run . --out /tmp/ddp --models vae,gan --steps 1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def train(run: Path, out: Path, model: str, steps: int, nproc: int, threads: int) -> dict:
    from genbench.core.config import compose_params

    raw = compose_params([f"model=[{model}]", f"train.nproc={nproc}",
                          f"train.threads={threads}", "train.progress=false",
                          f"models.{model}.steps={steps}"], conf_dir=ROOT / "conf")
    tag = f"{model}-np{nproc}-t{threads}"
    params = out / f"{tag}.yaml"
    params.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, str(ROOT / "stages" / "train.py"), "--params", str(params),
           "--model", model, "--data", str(run / "data/processed"), "--out",
           str(out / tag / "model.pt"), "--losses", str(out / tag / "losses.csv"), "--info",
           str(out / tag / "train.json"), "--checkpoint", str(out / tag / "ck.pt"),
           "--evaluator", str(run / "evaluator/classifier.pt")]
    subprocess.run(cmd, check=True)
    return json.loads((out / tag / "train.json").read_text()) | {"tag": tag}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=".", help="a repository with data/processed (dvc repro)")
    p.add_argument("--out", required=True)
    p.add_argument("--models", default="vae,gan")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--nproc", type=int, default=2)
    a = p.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    run, out = Path(a.run).resolve(), Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, models = [], a.models.split(",")
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.5), squeeze=False)
    for ax, m in zip(axes[0], models):
        # (nproc, threads): one process on one core, one on every core, N processes x 1 thread
        runs = [(1, 1), (1, a.nproc), (a.nproc, 1)]
        curves = {}
        for nproc, threads in runs:
            info = train(run, out, m, a.steps, nproc, threads)
            c = pd.read_csv(out / info["tag"] / "losses.csv")
            curves[nproc, threads] = c
            key = "loss" if "loss" in c.columns else "gen/loss"
            rows.append({"model": m, "nproc": nproc, "threads": threads,
                         "seconds": round(info["train_seconds"], 1),
                         "images_per_s": round(info["images_per_second"]),
                         "batch": info["batch_size"], "steps": info["steps"], "key": key,
                         "last10_mean": round(float(c[key].tail(10).mean()), 4)})
            ax.plot(c["step"], c[key], label=f"nproc {nproc} x {threads} thread(s)", lw=1)
        pd.concat({f"np{n}t{t}": c.set_index("step") for (n, t), c in curves.items()},
                  axis=1).to_csv(out / f"{m}_curves.csv")
        ax.set(title=m, xlabel="step", ylabel=rows[-1]["key"])
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "ddp_curves.png", dpi=110)
    table = pd.DataFrame(rows)
    table.to_csv(out / "ddp.csv", index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
