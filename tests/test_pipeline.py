"""The whole DAG on the tiny dataset, as CI runs it: copy the repository, `dvc exp run` with
data=digits and budget=smoke, check every stage ran, the report exists, every metric is finite,
a second `dvc repro` is a no-op, and changing one model's param reruns only its chain."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def sh(cmd: list[str], cwd: Path, timeout: int = 3600) -> str:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    env.pop("DVC_ROOT", None)
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def repo(root, tmp_path_factory) -> Path:
    """A fresh copy of the repository's code and config (tracked and not-ignored files, without
    the committed results of the default run), as a new git repo."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.split()
    dst = tmp_path_factory.mktemp("repo") / "genbench"
    skip = ("data/", "metrics/", "reports/", "models/", "samples/", "evaluator/", "dvc.lock")
    for f in files:
        if f.startswith(skip) or not (root / f).is_file():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, dst / f)
    for cmd in (["git", "init", "-q"], ["git", "config", "user.name", "ci"],
                ["git", "config", "user.email", "ci@example.invalid"],  # dvc exp commits too
                ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        sh(cmd, dst)
    return dst


def all_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from all_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from all_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def test_whole_dag_on_digits_smoke(repo):
    out = sh(["dvc", "exp", "run", "-S", "data=digits", "-S", "budget=smoke"], repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["data"]["name"] == "digits" and params["budget"]["name"] == "smoke"
    models = list(params["models"])
    stages = ["download", "preprocess", "evaluator", "toys", "report"] + [
        f"{s}@{m}" for s in ("train", "sample", "evaluate", "analyze") for m in models]
    for st in stages:
        assert f"Running stage '{st}'" in out, st
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert set(stages) <= set(lock)

    report = (repo / "reports" / "report.md").read_text()
    assert "real (held-out)" in report and all(f"## {m}" in report for m in models)
    assert (repo / "reports" / "report.html").exists()
    translators = [m for m, sec in params["models"].items()
                   if sec["kind"] in ("pix2pix", "srgan", "cyclegan")]
    if translators:  # the translation table with its baselines, and the strips
        assert "## Image-to-image translation" in report and "baseline: bicubic" in report
        assert all(f"**{m}** — rows:" in report for m in translators)
    for m in models:
        assert (repo / "reports" / "figures" / f"{m}_samples.png").stat().st_size > 0
        metrics = json.loads((repo / "metrics" / "models" / f"{m}.json").read_text())
        assert {"fid", "kid", "is", "precision", "recall", "classes_covered"} <= set(metrics)
        assert all(math.isfinite(v) for v in all_numbers(metrics)), m
        analyses = json.loads((repo / "metrics" / "analyses" / f"{m}.json").read_text())
        assert all(math.isfinite(v) for v in all_numbers(analyses)), m
    # every analysis ran or says why not; the costly ones only for the models they list
    a = params["analysis"]
    every = ("interpolation", "inpainting", "latent", "tangents", "probe", "robustness",
             "anomaly", "finetune")
    for m in models:
        r = json.loads((repo / "metrics" / "analyses" / f"{m}.json").read_text())
        assert all((name in r) != (name in r["skipped"]) for name in every), m
        assert ("anomaly" in r) == (m in a["anomaly"]["models"]), m
        assert ("finetune" in r) == (m in a["finetune"]["models"]), m
        if "interpolation" in r:
            assert (repo / "reports" / "analyses" / m / "interpolation.png").stat().st_size > 0
    for m in ("pca", "ae", "dae", "cae", "vae"):  # encoder + decoder: the codec analyses run
        r = json.loads((repo / "metrics" / "analyses" / f"{m}.json").read_text())
        assert {"interpolation", "inpainting", "latent", "tangents", "probe"} <= set(r), m
    for m in ("dcgan", "cvae"):  # no encoder / codes that need the label
        r = json.loads((repo / "metrics" / "analyses" / f"{m}.json").read_text())
        assert "interpolation" in r["skipped"], m
    assert len(json.loads((repo / "metrics" / "analyses" / "ae.json").read_text())
               ["anomaly"]["auroc"]) == 10
    toys = json.loads((repo / "metrics" / "toys.json").read_text())
    assert set(toys["mixtures"]) == {"ring", "grid"} and toys["line2d"]["updates"] > 0
    assert all(math.isfinite(v) for v in all_numbers(toys))
    assert "## 2-D GAN experiments" in report
    for section in ("## Analyses", "## Few-label fine-tuning", "## One-class anomaly detection"):
        assert section in report
    summary = json.loads((repo / "reports" / "summary.json").read_text())
    assert all(math.isfinite(v) for v in all_numbers(summary))
    assert set(summary["models"]) == {*models, "real (held-out)"}

    # MLflow: one run per model in the repository's own sqlite database
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("genbench")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.data.tags["genbench.model"] for r in runs) == sorted(models)
    assert all(r.info.status == "FINISHED" for r in runs)
    assert all("fid" in r.data.metrics for r in runs)  # the evaluate stage logged into the run

    # nothing changed: a second repro runs nothing
    again = sh(["dvc", "repro"], repo)
    assert "Running stage" not in again

    # one model's param: only its chain and the report rerun
    out = sh(["dvc", "exp", "run", "-S", "data=digits", "-S", "budget=smoke", "-S",
              "models.vae.latent_dim=8"], repo)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"train@vae", "sample@vae", "evaluate@vae", "analyze@vae", "report"}, ran

    # dropping models: the report lists only the selected one, stale outputs do not leak
    sh(["dvc", "exp", "run", "-S", "data=digits", "-S", "budget=smoke", "-S", "model=[pca]"], repo)
    summary = json.loads((repo / "reports" / "summary.json").read_text())
    assert set(summary["models"]) == {"pca", "real (held-out)"}
