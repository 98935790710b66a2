"""`make faults`: a newcomer's mistakes and faults, run for real through DVC, as a table.

Each case starts from the workspace after `make quickstart` (vae on the tiny digits data; run
first when its model is missing), makes one mistake — a bad `-S` value, a typo, a hand-edited
params.yaml or claim, a damaged model/data/evaluator file, an unreachable tracking server, a
second run beside a running one — and records what a user sees:

- exit: the command's exit status;
- line: the first line saying what went wrong (DVC's `ERROR:` or the stage's `error:`);
- lines, tracebacks: how much was printed, and whether a Python traceback was among it;
- params.yaml: whether it is as before the command (a refused `-S` run must not leave its bad
  value behind);
- outputs kept: whether every output and tracked file is as before (a failure must not delete the
  last good results; a damaged file the case wrote itself is not counted).

A case that runs through (exit 0) is reported as such: it is a silent wrong result unless the
value is valid. Between cases the workspace is put back (`git checkout -- . && dvc checkout
-f`), so one case cannot hide the next. Measured, never asserted (the unit tests assert the
lines: tests/test_config.py, tests/test_bad_files.py, tests/test_busy.py, ...): writes the table
to docs/faults.md and the records to benchmarks/faults.json. It works in a scratch clone of HEAD
(``--work``), never in this workspace.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

QUICK = ["data=digits", "budget=smoke", "model=[vae]", "toolbox=none"]  # `make quickstart`
WATCHED = ["models", "samples", "evaluator", "data/processed", "metrics", "reports", "params"]
SKIP_PARTS = {".dvc", "checkpoints", "__pycache__"}


@dataclass
class Case:
    """One mistake: ``sets`` extra `-S` overrides of `dvc exp run` (after the quickstart's), or
    ``cmd`` run as is; ``edit`` (path, old, new) applied to a file first; ``damage`` a file whose
    bytes are changed first; ``env`` extra environment; ``busy`` starts the same run beside."""

    name: str
    sets: list[str] = field(default_factory=list)
    cmd: list[str] | None = None
    edit: tuple[str, str, str] | None = None
    damage: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    busy: bool = False
    new: bool = True  # not among the issue's cases (issue 30's list of 81)


def _stage_cmd(stage: str) -> list[str]:
    """The command DVC runs for ``stage`` (dvc.lock), to run one stage on a damaged input."""
    import yaml

    return yaml.safe_load(Path("dvc.lock").read_text())["stages"][stage]["cmd"].split()


CASES = [
    # values that pass the schema but used to fail in training, after DVC deleted the model
    Case("negative layer size", ["models.vae.hidden=[-5]"], new=False),
    Case("zero layer size", ["models.vae.hidden=[0]"], new=False),
    Case("empty layer list", ["models.vae.hidden=[]"]),
    Case("latent size 0", ["models.vae.latent_dim=0"]),
    Case("negative learning rate", ["models.vae.lr=-0.001"]),
    Case("learning rate not a number", ["models.vae.lr=abc"], new=False),
    Case("batch larger than the train split", ["models.vae.batch_size=4000"], new=False),
    Case("negative steps", ["models.vae.steps=-1"]),
    Case("a key the model does not have", ["models.vae.beta1=0.5"]),
    Case("negative KL weight", ["models.vae.beta=-1"]),
    Case("another model's kind", ["models.vae.kind=gan"]),
    # names and keys
    Case("unknown key of a model", ["+models.vae.latnet_dim=8"], new=False),
    Case("typo in a model's name", ["models.vea.latent_dim=8"], new=False),
    Case("unknown model", ["model=[vea]"], new=False),
    Case("a model twice", ["model=[vae,vae]"]),
    Case("unknown budget", ["budget=huge"], new=False),
    Case("unknown data set", ["data=cifar100"], new=False),
    Case("unknown study", ["studies=[toy]"]),
    Case("unknown toolbox", ["toolbox=some"]),
    # data, seeds, training settings
    Case("validation fraction > 1", ["data.val_fraction=1.5"], new=False),
    Case("negative test fraction", ["data.test_fraction=-0.1"]),
    Case("negative seed", ["seed=-5"]),
    Case("extra seed equal to the seed", ["seeds=[0]"]),
    Case("more seeds equal to an extra seed", ["seeds=[1]", "more_seeds=[1]"]),
    Case("nproc 3 on 2 cores", ["train.nproc=3"], new=False),
    Case("nproc 0", ["train.nproc=0"]),
    Case("negative threads", ["train.threads=-1"]),
    Case("unknown precision", ["train.precision=fp8"], new=False),
    Case("unknown device", ["train.device=tpu"]),
    Case("evaluator batch > split", ["evaluator.batch_size=5000"], new=False),
    Case("Inception backbone without weights", ["evaluator.backbone=inception"], new=False),
    Case("analysis names a typo'd model", ["analysis.anomaly.models=[ae,vea]"], new=False),
    # tracking server
    Case("unreachable tracking server (params)", ["mlflow.tracking_uri=http://127.0.0.1:9"],
         new=False),
    Case("unreachable tracking server (env)", ["models.vae.latent_dim=12"],
         env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}, new=False),
    # hand edits
    Case("claim with `=<`", edit=("conf/claims.yaml", "check: gan:fid < gan_mm:fid",
                                  "check: gan:fid =< gan_mm:fid"), new=False),
    Case("claim naming an unknown model", edit=("conf/claims.yaml", "check: gan:fid < gan_mm:fid",
                                                "check: gan:fid < gam_mm:fid"), new=False),
    Case("claim naming an unknown metric", edit=(  # a claim on vae alone: judged here
        "conf/claims.yaml", "check: vae:interpolation.confidence_latent_mid",
        "check: vae:interpolaton.confidence_latent_mid")),
    Case("params.yaml: bad value, plain dvc repro", cmd=["dvc", "repro"],
         edit=("params.yaml", "latent_dim: 16", "latent_dim: -16")),
    Case("params.yaml: broken YAML, plain dvc repro", cmd=["dvc", "repro"],
         edit=("params.yaml", "latent_dim: 16", "latent_dim: [16")),
    Case("model config: broken YAML", edit=("conf/model/vae.yaml", "latent_dim:",
                                            "latent_dim: [")),
    # damaged files, read by the stage that uses them
    Case("flipped floats in the model file", cmd=["SAMPLE"], damage="models/vae/model.pt",
         new=False),
    Case("flipped byte in the evaluator", cmd=["EVALUATE"], damage="evaluator/classifier.pt",
         new=False),
    Case("flipped byte in the processed data", cmd=["TRAIN"],
         damage="data/processed/train.pt"),
    Case("truncated samples file", cmd=["EVALUATE"], damage="samples/vae/samples.pt"),
    # two runs at once
    Case("second dvc exp run while one runs", ["models.vae.latent_dim=4"], busy=True, new=False),
]

STAGE_OF = {"SAMPLE": "sample@vae", "EVALUATE": "evaluate@vae", "TRAIN": "train@vae"}


def _files() -> dict[str, str]:
    """md5 of params.yaml, every git-tracked file and every output under WATCHED."""
    paths = set(subprocess.run(["git", "ls-files"], capture_output=True, text=True,
                               check=True).stdout.split())
    for top in WATCHED:
        for p in Path(top).rglob("*"):
            if p.is_file() and not SKIP_PARTS & set(p.parts):
                paths.add(p.as_posix())
    return {p: hashlib.md5(Path(p).read_bytes()).hexdigest() for p in sorted(paths)
            if Path(p).is_file()}


def _damage(path: str) -> None:
    """Change bytes in the middle of ``path`` (flipped floats), or cut a samples file short."""
    b = bytearray(Path(path).read_bytes())
    if "samples" in path:
        b = b[: len(b) // 2]
    else:
        mid = len(b) // 2
        for i in range(mid, min(mid + 400, len(b))):
            b[i] ^= 0x40
    Path(path).write_bytes(bytes(b))


def _restore() -> None:
    subprocess.run(["git", "checkout", "-q", "--", "."], check=True)
    subprocess.run(["dvc", "checkout", "-f", "-q"], check=False, capture_output=True)


def _first_error(out: str) -> str:
    for line in out.splitlines():
        s = line.strip()
        if s.startswith(("ERROR", "error:")) or re.match(r"^\w+: error:", s):
            return s
    lines = [s for s in (x.strip() for x in out.splitlines()) if s]
    return lines[-1] if lines else ""


def run_case(case: Case, timeout: int) -> dict:
    env = {**os.environ, **case.env}
    cmd = case.cmd or ["dvc", "exp", "run", *(f"-S{o}" for o in [*QUICK, *case.sets])]
    if cmd[0] in STAGE_OF:
        cmd = _stage_cmd(STAGE_OF[cmd[0]])
    params_before = Path("params.yaml").read_bytes()  # a hand edit must be refused and undone
    if case.edit:
        path, old, new = case.edit
        text = Path(path).read_text()
        assert old in text, f"{path}: {old!r} not found"
        Path(path).write_text(text.replace(old, new, 1))
    if case.damage:
        _damage(case.damage)
    before = _files()
    first = None
    if case.busy:  # the same workspace, a run already going on
        first = subprocess.Popen(["dvc", "exp", "run", *(f"-S{o}" for o in QUICK),
                                  "-Smodels.vae.latent_dim=8"], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        marker = Path(".dvc/tmp/exps/run/workspace/workspace.json")
        while not marker.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        params_before = Path("params.yaml").read_bytes()
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                           check=False)
        rc, out = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        rc, out = "timeout", (e.stdout or "") + (e.stderr or "")
        out = out.decode() if isinstance(out, bytes) else out
    seconds = time.monotonic() - t0
    params_back = Path("params.yaml").read_bytes() == params_before
    if first is not None:
        first.communicate(timeout=1800)
        params_back = params_back and first.returncode == 0
    after = _files()
    changed = sorted(p for p in before if after.get(p) != before[p]
                     and p not in {case.damage, case.edit and case.edit[0], "params.yaml",
                                   "dvc.lock"})  # params.yaml: its own column
    if case.busy:
        changed = []  # the first run's own results legitimately replace the workspace's
    record = {"case": case.name, "new": case.new, "command": " ".join(cmd), "exit": rc,
              "seconds": round(seconds, 1), "line": _first_error(out),
              "lines": len([x for x in out.splitlines() if x.strip()]),
              "tracebacks": out.count("Traceback (most recent call last)"),
              "params_back": params_back, "outputs_kept": not changed,
              "changed": changed[:5], "n_changed": len(changed)}
    _restore()
    return record


def _cpu() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"Model name:\s*(.+)", out)
    return m.group(1).strip() if m else platform.processor()


def table(records: list[dict], cpu: str, date: str) -> str:
    n = len(records)
    tb = sum(r["tracebacks"] > 0 for r in records)
    ran = [r for r in records if r["exit"] == 0]
    lost = sum(not r["outputs_kept"] for r in records)
    kept_params = sum(r["params_back"] for r in records)

    def esc(s) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    rows = [f"| {esc(r['case'])}{'' if r['new'] else ' (issue)'} | {r['exit']} | "
            f"{esc(r['line'])[:300]} | {r['lines']} | {r['tracebacks']} | "
            f"{'yes' if r['params_back'] else 'no'} | "
            f"{'yes' if r['outputs_kept'] else 'no: ' + ', '.join(r['changed'])} | "
            f"{r['seconds']} |" for r in records]
    return "\n".join([
        "# Faults: what a mistake looks like",
        "",
        "Generated by `make faults` (benchmarks/faults.py, which says how each column is "
        f"measured) on {date}, {cpu}, after `make quickstart`. Every case is a real command "
        "in the workspace: `dvc exp run -S data=digits -S budget=smoke -S 'model=[vae]' -S "
        "toolbox=none -S <mistake>` unless the case says otherwise; \"(issue)\" marks the kinds "
        "of case the newcomer trial of issue 30 reported. \"params.yaml as before\": for a hand "
        "edit, as it was before the edit (the params stage puts the last valid file back); a "
        "params.yaml that is not YAML at all DVC refuses to read before any stage runs, so that "
        "edit stays for its author to fix. Damaged files are read by the stage that uses them "
        "(run as dvc.lock records it); `dvc repro` itself would rebuild them, since DVC sees "
        "the output changed.",
        "",
        f"{n} cases: {n - len(ran)} stop with an error, {len(ran)} run through; "
        f"{tb} print a Python traceback; params.yaml is as before in {kept_params}; outputs "
        f"lost in {lost}.",
        "",
        "| case | exit | the line printed | lines | tracebacks | params.yaml as before | "
        "outputs kept | s |",
        "|---|---|---|---|---|---|---|---|",
        *rows, ""])


def _workspace(src: Path, work: Path, env: dict) -> None:
    """A clone of ``src``'s HEAD at ``work`` after `make quickstart`, committed there, so that
    `git checkout -- . && dvc checkout -f` puts the quickstart's results back after each case."""
    subprocess.run(["git", "clone", "-q", str(src), str(work)], check=True)
    os.chdir(work)
    for cmd in (["git", "config", "user.name", "faults"],
                ["git", "config", "user.email", "faults@example.invalid"]):
        subprocess.run(cmd, check=True)
    subprocess.run(["dvc", "exp", "run", *(f"-S{o}" for o in QUICK)], check=True, env=env,
                   capture_output=True)
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run(["git", "commit", "-qm", "after make quickstart"], check=True)


def rewrite_table(src: Path) -> None:
    """docs/faults.md again from benchmarks/faults.json (the table's wording changed)."""
    saved = json.loads((src / "benchmarks" / "faults.json").read_text())
    (src / "docs" / "faults.md").write_text(table(saved["cases"], saved["cpu"], saved["date"]))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="case names to run (default: all)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per case")
    ap.add_argument("--work", default="/tmp/genbench-faults", help="the scratch clone (replaced)")
    ap.add_argument("--table-only", action="store_true",
                    help="rewrite docs/faults.md from benchmarks/faults.json, run nothing")
    a = ap.parse_args(argv)
    src = Path(__file__).resolve().parents[1]
    if a.table_only:
        rewrite_table(src)
        return
    work = Path(a.work)
    if work.exists():
        subprocess.run(["rm", "-rf", str(work)], check=True)
    # the stages import genbench from the clone, not from the editable install's source
    os.environ["PYTHONPATH"] = f"{work / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    _workspace(src, work, dict(os.environ))
    records = []
    for case in CASES:
        if a.only and case.name not in a.only:
            continue
        rec = run_case(case, a.timeout)
        print(f"{rec['case']}: exit {rec['exit']}, {rec['seconds']} s, tracebacks "
              f"{rec['tracebacks']}, params back {rec['params_back']}, kept "
              f"{rec['outputs_kept']}: {rec['line'][:160]}", flush=True)
        records.append(rec)
    date = time.strftime("%Y-%m-%d")
    (src / "benchmarks" / "faults.json").write_text(
        json.dumps({"cpu": _cpu(), "date": date, "cases": records}, indent=1) + "\n")
    (src / "docs" / "faults.md").write_text(table(records, _cpu(), date))


if __name__ == "__main__":
    main()
