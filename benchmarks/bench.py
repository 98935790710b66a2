"""`make bench`: training throughput (images/s) of every registered model and the achieved
GFLOP/s as a fraction of this machine's measured fp32 matmul peak.

Measured, never asserted: results go to stdout and benchmarks/results.json. Inputs are random
uint8 images of the mnist5k shape (throughput does not depend on pixel values).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genbench import engine, transforms  # noqa: E402
from genbench.config import EngineConfig  # noqa: E402
from genbench.data import Split  # noqa: E402
from genbench.evaluator import ClassifierTrainer  # noqa: E402
from genbench.models.base import Batch  # noqa: E402
from genbench.nn import ConvClassifier  # noqa: E402
from genbench.registry import model_class, registered  # noqa: E402


def matmul_peak(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    t0 = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def step_flops(model, split: Split, batch_size: int) -> float:
    """FLOPs of one engine step (every group, forward + backward), counted by torch."""
    tf = transforms.get(getattr(model, "input_transform", "unit"))
    x = tf.batch(tf.prepare(split.x[:batch_size]))
    batch = Batch(x, split.y[:batch_size])
    with FlopCounterMode(display=False) as fc:
        for g, spec in model.optimizer_groups().items():
            for _ in range(spec.steps):
                model.zero_grad(set_to_none=True)
                model.losses(batch, g)["loss"].backward()
    return float(fc.get_total_flops())


def bench_model(name: str, model, batch_size: int, steps: int, split: Split) -> dict:
    cfg = EngineConfig(device="cpu", progress=False, log_every=10**9, checkpoint_every=10**9)
    tf = transforms.get(getattr(model, "input_transform", "unit"))
    groups = model.optimizer_groups()
    if not groups:  # closed form: time the fit of the whole split
        t0 = time.perf_counter()
        engine.fit(model, split, transform=tf, steps=0, batch_size=len(split), seed=0,
                   engine=cfg, name=name)
        dt = time.perf_counter() - t0
        return {"model": name, "images_per_s": len(split) / dt, "seconds": dt, "gflop_per_s": None}
    flops = step_flops(model, split, batch_size)
    draws = sum(s.steps for s in groups.values())
    engine.fit(model, split, transform=tf, steps=3, batch_size=batch_size, seed=0, engine=cfg,
               name=name)  # warm-up
    res = engine.fit(model, split, transform=tf, steps=steps, batch_size=batch_size, seed=1,
                     engine=cfg, name=name)
    return {"model": name, "images_per_s": steps * draws * batch_size / res.seconds,
            "steps_per_s": steps / res.seconds, "seconds": res.seconds,
            "gflop_per_step": flops / 1e9, "gflop_per_s": flops * steps / res.seconds / 1e9}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    a = p.parse_args()
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (4000, 1, 28, 28), dtype=torch.uint8, generator=g),
                  torch.randint(0, 10, (4000,), generator=g))
    peak = matmul_peak()
    rows = []
    sections = {yaml.safe_load(f.read_text())["kind"]: yaml.safe_load(f.read_text())
                for f in sorted((ROOT / "conf" / "model").glob("*.yaml"))}
    for kind in registered():
        cls = model_class(kind)
        cfg = cls.Config.model_validate(sections[kind])
        model = cls(cfg, (1, 28, 28), 10)
        rows.append(bench_model(kind, model, getattr(cfg, "batch_size", 4000), a.steps, split))
    clf = ClassifierTrainer(ConvClassifier((1, 28, 28), 10), 1e-3, 2.0)
    rows.append(bench_model("evaluator", clf, 128, a.steps, split))
    print(f"threads: {torch.get_num_threads()}   fp32 matmul peak: {peak:.1f} GFLOP/s")
    print(f"{'model':<12}{'images/s':>12}{'GFLOP/step':>12}{'GFLOP/s':>10}{'of peak':>9}")
    for r in rows:
        gf = r.get("gflop_per_s")
        print(f"{r['model']:<12}{r['images_per_s']:>12.0f}"
              f"{r.get('gflop_per_step', float('nan')):>12.3f}"
              + (f"{gf:>10.1f}{gf / peak:>9.1%}" if gf else f"{'–':>10}{'–':>9}"))
    Path(a.out).write_text(json.dumps({"matmul_peak_gflops": peak,
                                       "threads": torch.get_num_threads(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
