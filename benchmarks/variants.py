"""Train, sample and evaluate models under changed settings against a finished run's data and
evaluator, to measure what a setting does to the metrics: bf16 vs fp32 (`train.precision`),
seed noise (`seed`). The run's own outputs are not touched.

    python benchmarks/variants.py --run . --out /tmp/bf16 --set train.precision=bf16
    python benchmarks/variants.py --run . --out /tmp/seed1 --set seed=1 --models vae,dcgan
    python benchmarks/variants.py --compare metrics/models /tmp/bf16 /tmp/seed1

Each model runs in its own process (``--jobs`` at a time, ``train.threads`` threads each) through
the pipeline's stage functions (MLflow off); metrics go to ``<out>/<model>/metrics.json``. The
evaluator is the run's (``evaluator/classifier.pt``), so the numbers compare with the run's.
``--compare`` prints FID and test NLL side by side (a reference folder of ``<model>.json`` or of
``<model>/metrics.json`` folders first).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml


def _set(raw: dict, assignment: str) -> None:
    key, value = assignment.split("=", 1)
    *parents, leaf = key.split(".")
    node = raw
    for k in parents:
        node = node[k]
    node[leaf] = yaml.safe_load(value)


def run_one(run: Path, out: Path, model: str, sets: list[str]) -> None:
    """One model's chain in this process (the worker side of :func:`main`)."""
    from genbench.cli import _set_threads
    from genbench.core import config as C
    from genbench.params import load_params
    from genbench.pipeline.evaluate import evaluate
    from genbench.pipeline.sample import sample
    from genbench.pipeline.train import train

    raw = yaml.safe_load((run / "params.yaml").read_text())
    raw["mlflow"]["enabled"] = False
    raw["train"]["progress"] = False
    for s in sets:
        _set(raw, s)
    raw["models"] = {model: raw["models"][model]}
    raw["seeds"], raw["seeded"] = [], {}  # the main seed only (extra seeds: the seed stages)
    raw["analysis"]["anomaly"]["models"] = []  # it retrains models: not what a variant measures
    d = out / model
    d.mkdir(parents=True, exist_ok=True)
    (d / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    params = load_params(d / "params.yaml")
    _set_threads(params.train.threads)
    data, clf = run / "data" / "processed", run / "evaluator" / "classifier.pt"
    train(C.TrainView.of(params, model), model, data, d / "model.pt", d / "losses.csv",
          d / "train.json", d / "checkpoint.pt", clf)
    sample(C.SampleView.of(params), model, d / "model.pt", d / "samples.pt", d / "grid.png",
           d / "sample.json", data)
    evaluate(C.EvaluateView.of(params), model, data, clf, d / "model.pt", d / "samples.pt",
             d / "metrics.json", run / "evaluator" / "unpaired.pt")


def _metrics(folder: Path, model: str) -> dict | None:
    for f in (folder / f"{model}.json", folder / model / "metrics.json"):
        if f.exists():
            return json.loads(f.read_text())
    return None


def compare(folders: list[Path]) -> None:
    names = sorted({p.stem if p.suffix == ".json" else p.name
                    for f in folders for p in f.iterdir()
                    if p.suffix == ".json" or (p / "metrics.json").exists()})
    print(f"{'model':<17}" + "".join(f"{f.name[:21]:>22}" for f in folders))
    for m in names:
        cells = []
        for f in folders:
            r = _metrics(f, m)
            if r is None:
                cells.append(f"{'–':>22}")
                continue
            nll = r.get("nll_nats")
            cells.append(f"{r['fid']:>11.1f}" + (f"{nll:>11.2f}" if nll is not None else f"{'':>11}"))
        print(f"{m:<17}" + "".join(cells))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a repository whose pipeline ran (data, evaluator)")
    p.add_argument("--out", type=Path)
    p.add_argument("--set", action="append", default=[], help="key=value into params.yaml")
    p.add_argument("--models", default=None, help="comma-separated (default: all of the run)")
    p.add_argument("-j", "--jobs", type=int, default=2)
    p.add_argument("--one", help=argparse.SUPPRESS)  # worker: run this model only
    p.add_argument("--compare", nargs="+", type=Path, help="metrics folders to put side by side")
    a = p.parse_args()
    if a.compare:
        compare(a.compare)
        return
    if a.one:
        run_one(a.run.resolve(), a.out.resolve(), a.one, a.set)
        return
    models = a.models.split(",") if a.models else list(
        yaml.safe_load((a.run / "params.yaml").read_text())["models"])
    a.out.mkdir(parents=True, exist_ok=True)
    queue, running = list(models), {}
    while queue or running:
        while queue and len(running) < a.jobs:
            m = queue.pop(0)
            log = open(a.out / f"{m}.log", "w")
            cmd = [sys.executable, __file__, "--run", str(a.run), "--out", str(a.out), "--one", m,
                   *(f"--set={s}" for s in a.set)]
            running[m] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT),
                          time.perf_counter(), log)
        time.sleep(0.5)
        for m, (proc, t0, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[m]
                print(f"{m:<17} {time.perf_counter() - t0:7.1f} s  "
                      f"{'done' if proc.returncode == 0 else 'FAILED'}", flush=True)


if __name__ == "__main__":
    main()
