"""`make repro`: ``dvc repro`` with independent stages side by side, one per core.

A single ``dvc repro`` runs its stages one after the other. DVC releases its repository lock
while a stage's command runs (``unlocked_repo`` around the command in ``dvc.stage.run``) and
takes it only to check and record stages, so several ``dvc repro`` processes on disjoint
targets can share a machine: each waits for the lock (``--wait-for-lock``) instead of failing.
This runner keeps ``jobs`` of them busy:

1. ``params`` (the stage views), then ``download`` → ``preprocess`` → ``evaluator`` beside
   ``toys`` and ``text`` (they need no data);
2. then every model's chain ``train@<m>`` → ``sample@<m>`` → ``evaluate@<m>`` (one ``dvc repro
   --single-item`` of the three: DVC write-locks the outputs of every stage it checks, so the
   chains must not check the shared upstream stages again), longest first (last run's times
   from the committed ``train.json``/metrics files), each started as soon as a slot is free;
3. after every chain, ``cluster``, ``arithmetic``, ``tangent_prop`` and ``gan_studies`` (they
   read the whole ``models/`` folder); ``captions`` once the data is processed;
4. finally a plain ``dvc repro``: the report, and a check that nothing is left to do.

Every stage uses ``train.threads`` threads (1 by default), so the numbers do not depend on
``jobs`` or on which chains ran together: the same outputs as a plain ``dvc repro``. A failed
chain does not stop the others; the run then ends with its log and exit status 1, before the
report. Each chain's DVC output goes to ``.dvc/tmp/repro/<target>.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

LOGS = Path(".dvc/tmp/repro")


@dataclass
class Task:
    target: str  # the name it is reported under
    cost: float  # expected seconds: the longest tasks start first
    after: set[str] = field(default_factory=set)  # tasks that must have succeeded
    stages: list[str] = field(default_factory=list)  # ``dvc repro -s`` these, in order

    def command(self) -> list[str]:
        # -s (--single-item): DVC takes a write lock on the outputs of every stage it checks,
        # so a task must not check the shared upstream stages (the runner ran them first)
        return _dvc("--wait-for-lock", "repro", "--single-item", *self.stages)


def _seconds(path: Path, *keys: str) -> float:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0.0
    total = 0.0
    for k in keys:
        v = data.get(k)
        if isinstance(v, (int, float)):
            total += v
        elif isinstance(v, dict):  # the analyses' seconds per analysis
            total += sum(x for x in v.values() if isinstance(x, (int, float)))
    return total


def expected_cost(model: str) -> float:
    """Last run's seconds of the model's chain (60 s when it never ran here)."""
    cost = (_seconds(Path("models") / model / "train.json", "train_seconds")
            + _seconds(Path("metrics/models") / f"{model}.json", "eval_seconds")
            + _seconds(Path("metrics/analyses") / f"{model}.json", "seconds"))
    return cost or 60.0


def seed_cost(model: str, seed: int) -> float:
    """Last run's seconds of the extra seed's stage, else of the model's main chain."""
    return _seconds(Path("metrics/seeds") / model / f"{seed}.json", "seconds") \
        or expected_cost(model)


def plan(models: list[str], seeded: list[str] = (), seeds: list[int] = ()) -> list[Task]:
    tasks = [Task("params", 1e10, stages=["params"]),  # the views every other stage reads
             Task("evaluator", 1e9, {"params"}, ["download", "preprocess", "evaluator"]),
             Task("toys", 1e8, {"params"}, ["toys"]),  # beside the evaluator
             Task("text", 1e8, {"params"}, ["text"]),  # no data, no evaluator
             Task("captions", 1e8, {"evaluator"}, ["captions"])]  # the processed splits'
    tasks += [Task(m, expected_cost(m), {"evaluator"},
                   [f"train@{m}", f"sample@{m}", f"evaluate@{m}"]) for m in models]
    # the extra seeds (stage seed@<model>-<seed>) are independent chains of one stage each
    tasks += [Task(f"{m}-{s}", seed_cost(m, s), {"evaluator"}, [f"seed@{m}-{s}"])
              for m in seeded for s in seeds]
    # the analyses across models read the whole models/ folder: after every chain
    tasks += [Task(s, 0.0, {"evaluator", *models}, [s])
              for s in ("cluster", "arithmetic", "tangent_prop", "gan_studies")]
    return tasks


def _dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def run_tasks(tasks: list[Task], jobs: int) -> dict[str, int]:
    """Run the tasks' ``dvc repro`` processes, ``jobs`` at a time; target -> exit status (-1:
    not run because a task it needs failed)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    pending = sorted(tasks, key=lambda t: -t.cost)
    running: dict[str, tuple[subprocess.Popen, float, object]] = {}
    done: dict[str, int] = {}
    while pending or running:
        for t in list(pending):
            if any(done.get(a, 0) != 0 for a in t.after):  # a task it needs failed
                pending.remove(t)
                done[t.target] = -1
                print(f"  {t.target:<28} skipped: a stage it needs failed", flush=True)
            elif len(running) < jobs and all(a in done for a in t.after):
                log = open(LOGS / f"{t.target}.log", "w")
                proc = subprocess.Popen(t.command(), stdout=log, stderr=subprocess.STDOUT)
                running[t.target] = (proc, time.perf_counter(), log)
                pending.remove(t)
        time.sleep(0.2)
        for target, (proc, t0, log) in list(running.items()):
            if proc.poll() is None:
                continue
            log.close()
            del running[target]
            done[target] = proc.returncode
            mark = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
            print(f"  {target:<28} {time.perf_counter() - t0:7.1f} s  {mark}", flush=True)
    return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="dvc repro processes at a time (default: CPU cores / (train.threads "
                        "x train.nproc))")
    a = p.parse_args(argv)
    import yaml

    params = yaml.safe_load(Path("params.yaml").read_text())
    # a train stage with train.nproc > 1 is that many processes of `threads` threads each
    threads = (params["train"].get("threads") or os.cpu_count() or 1) \
        * params["train"].get("nproc", 1)
    jobs = a.jobs or max(1, (os.cpu_count() or 1) // threads)
    models = list(params["models"])
    seeded, seeds = list(params.get("seeded") or {}), list(params.get("seeds") or [])
    t0 = time.perf_counter()
    print(f"dvc repro: {len(models)} model chains and {len(seeded) * len(seeds)} extra-seed "
          f"stages, {jobs} at a time ({threads} thread(s) per stage); logs in {LOGS}/",
          flush=True)
    done = run_tasks(plan(models, seeded, seeds), jobs)
    failed = [t for t, rc in done.items() if rc > 0]
    if failed:
        for t in failed:
            log = LOGS / f"{t}.log"
            if log.exists():
                tail = log.read_text().splitlines()[-15:]
                print(f"\n--- {t} (last lines of {log}) ---\n" + "\n".join(tail), flush=True)
        print(f"\n{len(failed)} target(s) failed: {', '.join(failed)}; the report was not "
              f"rebuilt", file=sys.stderr)
        return 1
    rc = subprocess.call(_dvc("repro"))  # the report, and nothing else left to do
    print(f"make repro: {time.perf_counter() - t0:.0f} s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
