"""`make repro`: ``dvc repro`` with independent stages side by side, one per core.

A single ``dvc repro`` runs its stages one after the other. DVC releases its repository lock
while a stage's command runs (``unlocked_repo`` around the command in ``dvc.stage.run``) and
takes it only to check and record stages, so several ``dvc repro`` processes on disjoint
targets can share a machine: each waits for the lock (``--wait-for-lock``) instead of failing.
This runner keeps ``jobs`` of them busy, scheduling from DVC's own graph (``dvc dag --dot``):
it knows no stage by name, so a stage added to dvc.yaml is scheduled with no change here.

1. **Tasks.** The stages one ``foreach`` item instantiates (``train@vae``, ``sample@vae``,
   ``evaluate@vae``: the same item ``vae``) form one task, run in DVC's order by one ``dvc repro
   --single-item`` (fewer DVC start-ups; DVC write-locks the outputs of every stage it checks,
   so a task never checks stages outside it). Every other stage is a task of its own.
2. **Order.** A task starts once every task holding a stage it depends on has succeeded; among
   the ready tasks the one with the longest remaining path to the end of the DAG goes first
   (its own expected seconds plus the longest chain of tasks after it), so the long chains and
   the stages they feed are not left for last.
3. **Expected seconds** of a stage: what its last run recorded in its JSON outputs (dvc.lock's
   ``outs``; :func:`recorded_seconds`), 60 s when nothing is recorded (a stage not run here).

Every stage uses ``train.threads`` threads (1 by default), so the numbers do not depend on
``jobs`` or on which stages ran together: the same outputs as a plain ``dvc repro``. A failed
task does not stop the others, only those after it; the run then ends with its log and exit
status 1. Each task's DVC output goes to ``.dvc/tmp/repro/<task>.log``. A final plain ``dvc
repro`` checks that nothing is left to do.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

LOGS = Path(".dvc/tmp/repro")
UNKNOWN_SECONDS = 60.0  # a stage that never ran here
_EDGE = re.compile(r'^\s*"([^"]+)"\s*->\s*"([^"]+)"\s*;?\s*$')
_NODE = re.compile(r'^\s*"([^"]+)"\s*;?\s*$')


@dataclass
class Task:
    target: str  # the name it is reported under: the foreach item, or the stage
    stages: list[str]  # ``dvc repro --single-item`` these, in DVC's order
    cost: float = 0.0  # expected seconds of its stages
    after: set[str] = field(default_factory=set)  # tasks that must have succeeded
    priority: float = 0.0  # cost + the longest chain of tasks after it

    def command(self) -> list[str]:
        return _dvc("--wait-for-lock", "repro", "--single-item", *self.stages)


def parse_dot(text: str) -> dict[str, set[str]]:
    """``dvc dag --dot`` -> stage -> the stages it depends on (DVC draws upstream -> downstream)."""
    graph: dict[str, set[str]] = {}
    for line in text.splitlines():
        if m := _EDGE.match(line):
            graph.setdefault(m[1], set())
            graph.setdefault(m[2], set()).add(m[1])
        elif m := _NODE.match(line):
            graph.setdefault(m[1], set())
    return graph


def stage_graph() -> dict[str, set[str]]:
    """This repository's stages and their dependencies, as DVC sees them."""
    out = subprocess.run(_dvc("dag", "--dot"), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"dvc dag failed: {out.stderr.strip()}")
    return parse_dot(out.stdout)


def _item(stage: str) -> str:
    """The foreach item a stage was instantiated for (``train@vae`` -> ``vae``), else itself."""
    return stage.split("@", 1)[1] if "@" in stage else stage


def plan(graph: dict[str, set[str]], seconds: dict[str, float] | None = None) -> list[Task]:
    """The tasks of ``graph`` (stage -> its dependencies), their order and priorities."""
    seconds = seconds or {}
    order = list(TopologicalSorter(graph).static_order())
    groups: dict[str, list[str]] = {}
    for stage in order:  # stages of one item in topological order
        groups.setdefault(_item(stage), []).append(stage)
    task_of = {s: item for item, stages in groups.items() for s in stages}
    tasks = {item: Task(item, stages, sum(seconds.get(s, UNKNOWN_SECONDS) for s in stages))
             for item, stages in groups.items()}
    for stage, deps in graph.items():
        tasks[task_of[stage]].after |= {task_of[d] for d in deps} - {task_of[stage]}
    try:  # grouping must not make a task wait for itself through another task
        task_order = list(TopologicalSorter({t.target: t.after for t in tasks.values()})
                          .static_order())
    except CycleError as err:
        raise SystemExit(f"dvc.yaml: the stages of foreach item {err.args[1][0]!r} depend on "
                         f"each other through another stage; this runner cannot group "
                         f"them") from None
    downstream: dict[str, set[str]] = {t: set() for t in tasks}
    for t in tasks.values():
        for a in t.after:
            downstream[a].add(t.target)
    for name in reversed(task_order):  # after every task it feeds
        t = tasks[name]
        t.priority = t.cost + max((tasks[d].priority for d in downstream[name]), default=0.0)
    return [tasks[n] for n in task_order]


def recorded_seconds(lock: Path = Path("dvc.lock")) -> dict[str, float]:
    """Per stage of dvc.lock: the seconds its last run recorded in its JSON outputs (the files
    it declares, and the JSON files at the top of the folders it declares)."""
    import yaml

    try:
        stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    except (OSError, yaml.YAMLError):
        return {}
    out = {}
    for name, stage in stages.items():
        paths = [Path(o["path"]) for o in stage.get("outs", [])]
        files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.glob("*.json")))
                 if f.suffix == ".json"]
        total = sum(json_seconds(_read_json(f)) for f in files)
        if total:
            out[name] = total
    return out


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def json_seconds(obj) -> float:
    """Seconds recorded in a stage's JSON output: a number under ``seconds`` is the total of
    its dict; else the numbers under ``*_seconds`` keys, a ``seconds`` dict's values (the
    analyses' seconds per analysis) and the same within nested dicts and lists."""
    def num(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if isinstance(obj, list):
        return sum(json_seconds(v) for v in obj)
    if not isinstance(obj, dict):
        return 0.0
    if num(obj.get("seconds")):
        return float(obj["seconds"])
    total = 0.0
    for k, v in obj.items():
        if num(v) and k.endswith("_seconds"):
            total += v
        elif k == "seconds" and isinstance(v, dict):
            total += sum(x for x in v.values() if num(x))
        else:
            total += json_seconds(v)
    return total


def _dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def run_tasks(tasks: list[Task], jobs: int) -> dict[str, int]:
    """Run the tasks' ``dvc repro`` processes, ``jobs`` at a time; target -> exit status (-1:
    not run because a task it needs failed)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    pending = sorted(tasks, key=lambda t: -t.priority)
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


def default_jobs(params_path: Path = Path("params.yaml")) -> int:
    """CPU cores / (threads per stage): a train stage with ``train.nproc`` > 1 is that many
    processes of ``train.threads`` threads each."""
    from genbench.core.config import read_params

    train = read_params(params_path).train
    per_stage = (train.threads or os.cpu_count() or 1) * train.nproc
    return max(1, (os.cpu_count() or 1) // per_stage)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="dvc repro processes at a time (default: CPU cores / (train.threads "
                        "x train.nproc))")
    a = p.parse_args(argv)
    jobs = a.jobs or default_jobs()
    tasks = plan(stage_graph(), recorded_seconds())
    t0 = time.perf_counter()
    print(f"dvc repro: {sum(len(t.stages) for t in tasks)} stages in {len(tasks)} tasks, "
          f"{jobs} at a time; logs in {LOGS}/", flush=True)
    done = run_tasks(tasks, jobs)
    failed = [t for t, rc in done.items() if rc > 0]
    if failed:
        for t in failed:
            log = LOGS / f"{t}.log"
            if log.exists():
                tail = log.read_text().splitlines()[-15:]
                print(f"\n--- {t} (last lines of {log}) ---\n" + "\n".join(tail), flush=True)
        skipped = sum(rc == -1 for rc in done.values())
        print(f"\n{len(failed)} task(s) failed: {', '.join(failed)}; {skipped} after them "
              f"not run", file=sys.stderr)
        return 1
    rc = subprocess.call(_dvc("repro"))  # nothing should be left to do
    print(f"make repro: {time.perf_counter() - t0:.0f} s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
