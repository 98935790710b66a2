"""`make bench`: training throughput of every model config, fp32 vs bf16, against this machine's
measured matmul peaks, and the precision ``train.precision: auto`` would pick here.

For each config of conf/model (the default selection, or ``--models``): images/s and GFLOP/s of
engine steps in fp32 and in bf16 autocast, at ``--threads`` torch threads (default: what the
stages use, params.yaml's ``train.threads``), on random uint8 images of the mnist5k shape
(throughput does not depend on pixel values). FLOPs of one step are counted by torch's
FlopCounterMode (forward + backward of every group); % of peak compares fp32 steps with the
fp32 matmul peak and bf16 steps with the bf16 one, both measured in the same run.

Measured, never asserted: a table on stdout and benchmarks/results.json. The last column says
what this machine measured faster (bf16 only when ≥ 10% faster) next to what the model's
class declares (``cpu_precision``, genbench.core.precision), which also requires the metric
check of the default run.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from genbench.core import engine, transforms  # noqa: E402
from genbench.core import precision as P  # noqa: E402
from genbench.core.config import EngineConfig, read_model_conf  # noqa: E402
from genbench.core.data import Split  # noqa: E402
from genbench.evaluator import ClassifierTrainer  # noqa: E402
from genbench.models.base import Batch  # noqa: E402
from genbench.models.registry import model_class  # noqa: E402
from genbench.nn import ConvClassifier  # noqa: E402

SHAPE = (1, 28, 28)
FASTER = 1.10  # bf16 must be this much faster to be worth a different numeric path


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                    if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def matmul_peak(dtype: torch.dtype, n: int = 2048, seconds: float = 1.0) -> float:
    """GFLOP/s of an n×n matmul in ``dtype`` (best of a few timed bursts)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def build(name: str, section: dict, split: Split):
    cls = model_class(section["kind"])
    if cls.translates:  # the domains come with the data in the pipeline
        section = {**section, "domain": {}}
    torch.manual_seed(0)
    model = cls(cls.Config.model_validate(section), SHAPE, 10)
    if model.unpaired:
        model.attach_unpaired(split.x[:500])
    return model


def step_flops(model, split: Split, batch_size: int) -> float | None:
    """FLOPs of one engine step (every group, forward + backward), counted by torch; None where
    the counter cannot follow the step (double backward of a gradient penalty)."""
    tf = transforms.get(getattr(model, "input_transform", "unit"))
    x = tf.batch(tf.prepare(split.x[:batch_size]))
    batch = Batch(x, split.y[:batch_size])
    try:
        with FlopCounterMode(display=False) as fc:
            for g, spec in model.optimizer_groups().items():
                for _ in range(spec.steps):
                    model.zero_grad(set_to_none=True)
                    model.losses(batch, g)["loss"].backward()
    except RuntimeError:
        return None
    finally:
        model.zero_grad(set_to_none=True)
    return float(fc.get_total_flops())


def time_steps(model, split: Split, batch_size: int, steps: int, precision: str,
               threads: int) -> float:
    """Seconds per engine step (after 3 warm-up steps), through the real engine."""
    model.on_train_end = lambda x, y: None  # steps only: not an RBM's AIS after its last step
    cfg = EngineConfig(device="cpu", progress=False, log_every=10**9, checkpoint_every=10**9,
                       threads=threads, precision=precision)
    tf = transforms.get(getattr(model, "input_transform", "unit"))
    engine.fit(model, split, transform=tf, steps=3, batch_size=batch_size, seed=0, engine=cfg,
               name="bench")
    res = engine.fit(model, split, transform=tf, steps=steps, batch_size=batch_size, seed=1,
                     engine=cfg, name="bench")
    return res.seconds / steps


def bench_one(name: str, model, batch_size: int, split: Split, steps: int, threads: int,
              peaks: dict) -> dict:
    row = {"model": name, "key": P.key(model), "batch_size": batch_size}
    groups = model.optimizer_groups()
    if not groups:  # closed form: time the fit of the whole split
        cfg = EngineConfig(device="cpu", progress=False, threads=threads, precision="fp32")
        res = engine.fit(model, split, transform=transforms.get(model.input_transform), steps=0,
                         batch_size=len(split), seed=0, engine=cfg, name=name)
        return {**row, "closed_form": True, "fit_seconds": res.seconds}
    draws = sum(s.steps for s in groups.values())
    flops = step_flops(model, split, batch_size)
    row["gflop_per_step"] = flops / 1e9 if flops else None
    for prec in ("fp32", "bf16"):
        sec = time_steps(model, split, batch_size, steps, prec, threads)
        gfs = flops / sec / 1e9 if flops else None
        row[prec] = {"seconds_per_step": sec, "images_per_s": draws * batch_size / sec,
                     "gflop_per_s": gfs, "of_peak": gfs / peaks[prec] if gfs else None}
    row["bf16_speedup"] = row["fp32"]["seconds_per_step"] / row["bf16"]["seconds_per_step"]
    row["measured_choice"] = "bf16" if row["bf16_speedup"] >= FASTER else "fp32"
    row["auto"] = P.auto_cpu(model)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=10, help="timed engine steps per precision")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: params.yaml's train.threads)")
    p.add_argument("--models", default=None, help="comma-separated configs (default: params.yaml)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    a = p.parse_args()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    threads = a.threads if a.threads is not None else params["train"]["threads"]
    if threads:
        torch.set_num_threads(threads)
    names = a.models.split(",") if a.models else list(params["models"])
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (4000, *SHAPE), dtype=torch.uint8, generator=g),
                  torch.randint(0, 10, (4000,), generator=g))
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    cpu = cpu_model()
    print(f"CPU: {cpu}   torch threads: {torch.get_num_threads()}   matmul peak (2048²): "
          f"fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s", flush=True)
    head = (f"{'model':<17}{'key':<15}{'GFLOP/step':>11}{'fp32 img/s':>11}{'GF/s':>6}{'peak':>6}"
            f"{'bf16 img/s':>11}{'GF/s':>6}{'peak':>6}{'×':>6}  here  auto")
    print(head, flush=True)
    rows = []
    sections = {f.stem: read_model_conf(f)
                for f in sorted((ROOT / "conf" / "model").glob("*.yaml"))}
    for name in names:
        section = params["models"].get(name) or sections[name]
        model = build(name, section, split)
        bs = min(section.get("batch_size", len(split)), len(split))
        rows.append(bench_one(name, model, bs, split, a.steps, threads, peaks))
        _print_row(rows[-1])
    clf = ClassifierTrainer(ConvClassifier(SHAPE, 10), 1e-3, 2.0)
    rows.append(bench_one("evaluator", clf, 128, split, a.steps, threads, peaks))
    _print_row(rows[-1])
    Path(a.out).write_text(json.dumps({"cpu": cpu, "threads": torch.get_num_threads(),
                                       "torch": torch.__version__, "matmul_peak_gflops": peaks,
                                       "rows": rows}, indent=2) + "\n")


def _print_row(r: dict) -> None:
    if r.get("closed_form"):
        print(f"{r['model']:<17}{r['key']:<15}  closed form: fit {r['fit_seconds']:.2f} s",
              flush=True)
        return
    f, b = r["fp32"], r["bf16"]

    def num(v, spec: str, width: int) -> str:
        return f"{v:>{width}{spec}}" if v is not None else f"{'–':>{width}}"

    print(f"{r['model']:<17}{r['key']:<15}{num(r['gflop_per_step'], '.3f', 11)}"
          f"{f['images_per_s']:>11.0f}{num(f['gflop_per_s'], '.0f', 6)}{num(f['of_peak'], '.0%', 6)}"
          f"{b['images_per_s']:>11.0f}{num(b['gflop_per_s'], '.0f', 6)}{num(b['of_peak'], '.0%', 6)}"
          f"{r['bf16_speedup']:>6.2f}  {r['measured_choice']:<5} {r['auto']}", flush=True)


if __name__ == "__main__":
    main()
