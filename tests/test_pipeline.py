"""The whole DAG through DVC on the tiny dataset, as CI runs it, over one model per kind (every
variant goes through the same stage functions in test_every_config.py): copy the repository;
`make repro`'s runner (chains side by side, `dvc repro --wait-for-lock`) on params composed with
data=digits and budget=smoke; check every stage ran and is recorded, the report, every metric
finite, MLflow's runs; a second `dvc repro` is a no-op; `dvc exp run` changing one model's param
reruns only its chain; dropping models keeps their outputs out of the report."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def one_model_per_kind(root: Path) -> list[str]:
    """The first model of each kind in the default selection (conf/config.yaml's order)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    first: dict[str, str] = {}
    for name, section in params["models"].items():
        first.setdefault(section["kind"], name)
    return list(first.values())


def sh(cmd: list[str], cwd: Path, timeout: int = 1800) -> str:
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


def ran_stages(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


def test_whole_dag_on_digits_smoke(repo, root, tmp_path):
    models = one_model_per_kind(root)
    # one extra seed keeps CI short (a verdict needs 3 seeds: here the stages must only run)
    # tangent prop's encoder: the AE kind's model CI selects (the default, cae, is a variant)
    overrides = ["data=digits", "budget=smoke", f"model=[{','.join(models)}]", "seeds=[1]",
                 "tangent_prop.encoder=ae"]
    sh([sys.executable, "-c", "import sys; from genbench.core.config import write_params; "
        "write_params(overrides=sys.argv[1:])", *overrides], repo)
    sh(["git", "commit", "-qam", "digits smoke"], repo)
    sh([sys.executable, "-m", "genbench.repro"], repo)  # what `make repro` runs
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["data"]["name"] == "digits" and params["budget"]["name"] == "smoke"
    assert list(params["models"]) == models
    seeded = list(params["seeded"])
    assert seeded and set(seeded) < set(models)  # the selected models that claims compare
    stages = ["params", "download", "preprocess", "evaluator", "toys", "claims", "report",
              "cluster", "arithmetic", "tangent_prop", "text", "captions", "gan_studies"] + [
        f"{s}@{m}" for s in ("train", "sample", "evaluate") for m in models] + [
        f"seed@{m}-1" for m in seeded]
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert set(stages) == set(lock)
    logs = repo / ".dvc" / "tmp" / "repro"
    for m in models:  # each chain ran its three stages in one dvc repro
        log = (logs / f"{m}.log").read_text()
        assert {f"train@{m}", f"sample@{m}", f"evaluate@{m}"} == ran_stages(log), log[-2000:]

    report = (repo / "reports" / "report.md").read_text()
    assert "real (held-out)" in report and all(f"## {m}" in report for m in models)
    assert (repo / "reports" / "report.html").exists()
    translators = [m for m, sec in params["models"].items()
                   if sec["kind"] in ("pix2pix", "srgan", "cyclegan")]
    assert "## Image-to-image translation" in report and "baseline: bicubic" in report
    assert all(f"**{m}** — rows:" in report for m in translators)
    for m in models:
        assert (repo / "reports" / "figures" / f"{m}_samples.png").stat().st_size > 0
        metrics = json.loads((repo / "metrics" / "models" / f"{m}.json").read_text())
        assert {"fid", "kid", "is", "precision", "recall", "classes_covered"} <= set(metrics)
        assert all(math.isfinite(v) for v in all_numbers(metrics)), m
        analyses = json.loads((repo / "metrics" / "analyses" / f"{m}.json").read_text())
        assert all(math.isfinite(v) for v in all_numbers(analyses)), m
        # the gate in every model's metrics; its learning curve (one row per curve point)
        assert isinstance(metrics["collapsed"], bool) and "gate" in metrics, m
        steps = json.loads((repo / "models" / m / "train.json").read_text())["steps"]
        rows = (repo / "metrics" / "curves" / f"{m}.csv").read_text().splitlines()
        assert len(rows) - 1 == (params["train"]["curve_points"] if steps else 0), m
    assert "## Learning curves" in report and "reads as digits" in report
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
    for m in ("pca", "ae", "vae"):  # encoder + decoder: the codec analyses run
        r = json.loads((repo / "metrics" / "analyses" / f"{m}.json").read_text())
        assert {"interpolation", "inpainting", "latent", "tangents", "probe"} <= set(r), m
    r = json.loads((repo / "metrics" / "analyses" / "gan.json").read_text())
    assert "interpolation" in r["skipped"]  # no encoder
    assert len(json.loads((repo / "metrics" / "analyses" / "ae.json").read_text())
               ["anomaly"]["auroc"]) == 10
    toys = json.loads((repo / "metrics" / "toys.json").read_text())
    assert set(toys["mixtures"]) == {"ring", "grid"} and toys["line2d"]["updates"] > 0
    assert set(toys["seeds"]) == {"1"} and set(toys["seeds"]["1"]["mixtures"]) == {"ring", "grid"}
    assert all(math.isfinite(v) for v in all_numbers(toys))
    assert "## 2-D GAN experiments" in report
    # the claims table opens the report; on the tiny data every verdict is computed or says why
    assert report.index("## Claims") < report.index("## Summary")
    claims = json.loads((repo / "reports" / "claims.json").read_text())
    assert claims["summary"]["claims"] >= 25 and claims["summary"]["seeds"] == [0, 1]
    for m in seeded:  # the extra seed trained the same config with another seed
        extra = json.loads((repo / "metrics" / "seeds" / m / "1.json").read_text())
        main = json.loads((repo / "metrics" / "models" / f"{m}.json").read_text())
        assert extra["seed"] == 1 and set(extra["metrics"]) == set(main) - {"curve"}, m
    assert any(len(c.get("seeds", [])) == 2 for c in claims["claims"].values())
    assert claims["claims"]["ring_gan_misses_modes"]["seeds"] == [0, 1]  # toys over seeds too
    assert all(c["verdict"] in ("holds", "fails", "inconclusive", "not run")
               for c in claims["claims"].values())
    for section in ("## Analyses", "## Few-label fine-tuning", "## One-class anomaly detection",
                    "## Clustering of representations", "### NMF parts vs PCA components",
                    "## Code-space arithmetic", "## Tangent prop",
                    "## Predictive learning on text", "## Modern GANs",
                    "Captions are generated from each digit's label"):
        assert section in report, section
    # the toolbox stages: every encoder's codes clustered, the arithmetic of the selected
    # latent models, tangent prop with both tangent sources, the text models over seeds
    cl = json.loads((repo / "metrics" / "cluster.json").read_text())
    encoders = {"pca", "ae", "vae", "aae", "rbm", "dbn", "dbm", "nmf"} & set(models)
    assert {"pixels", *encoders} <= set(cl["rows"]) and "gan" in cl["skipped"]
    assert all(0 <= r[a]["purity"] <= 1 for r in cl["rows"].values() for a in ("kmeans", "ward"))
    assert (repo / "reports" / "cluster" / "parts.png").stat().st_size > 0
    ar = json.loads((repo / "metrics" / "arithmetic.json").read_text())
    assert set(ar["models"]) == set(params["arithmetic"]["models"]) & set(models)
    tp = json.loads((repo / "metrics" / "tangent_prop.json").read_text())
    assert tp["variants"][0] == "none" and any(v.startswith("encoder") for v in tp["variants"])
    tx = json.loads((repo / "metrics" / "text.json").read_text())
    assert "TF-IDF (baseline)" in tx["document_similarity"] and tx["documents"]["pairs"] == 1225
    # issue 18: the captions as data, and every modern GAN's study
    head = (repo / "data" / "captions" / "train.tsv").read_text().splitlines()
    assert head[0].split("\t") == ["index", "label", "thickness", "slant", "size", "caption"]
    assert head[1].split("\t")[-1].startswith("a ")
    gs = json.loads((repo / "metrics" / "gan_studies.json").read_text())
    assert {m: r["study"] for m, r in gs["models"].items()} == {
        "biggan": "truncation", "stylegan": "style", "gan_cls": "text", "stackgan": "text"}
    assert all(math.isfinite(v) for v in all_numbers(gs))
    trunc = gs["models"]["biggan"]["thresholds"]
    assert set(trunc) == {*(f"{t:g}" for t in params["models"]["biggan"]["truncations"]), "none"}
    assert {"ppl_z", "ppl_w", "pairs_different"} <= set(gs["models"]["stylegan"])
    assert set(gs["models"]["gan_cls"]["attributes"]) == {"thickness", "slant", "size"}
    assert "stages" in gs["models"]["stackgan"]
    for f in ("biggan_truncation_curve", "stylegan_mixing", "gan_cls_interpolation",
              "stackgan_stages"):
        assert (repo / "reports" / "gan_studies" / f"{f}.png").stat().st_size > 0
    summary = json.loads((repo / "reports" / "summary.json").read_text())
    assert all(math.isfinite(v) for v in all_numbers(summary))
    assert set(summary["models"]) == {*models, "real (held-out)"}
    assert all(set(v) <= {"fid", "kid", "nll_nats"} for v in summary["models"].values())
    # the HTML report: every contents link reaches a heading; every image it shows exists
    page = (repo / "reports" / "report.html").read_text()
    assert set(re.findall(r'href="#([^"]+)"', page)) <= set(re.findall(r'id="([^"]+)"', page))
    assert all((repo / "reports" / src).exists() for src in re.findall(r'src="([^"]+)"', page))
    # DVC plots are the report's images: the page needs no network (no Vega from a CDN)
    plots = tmp_path / "dvc_plots"
    sh(["dvc", "plots", "show", "-o", str(plots)], repo)
    page = (plots / "index.html").read_text()
    assert "<img" in page and "http" not in page
    assert any(f"{m}_losses" in page for m in models)

    # MLflow: one run per model in the repository's own sqlite database, with its evaluation
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("genbench")
    runs = client.search_runs([exp.experiment_id])
    toolbox = ["cluster", "arithmetic", "tangent_prop", "text", "gan_studies"]  # stage runs
    assert sorted(r.data.tags["genbench.model"] for r in runs) == sorted([*models, "claims",
                                                                          *toolbox])
    assert all(r.info.status == "FINISHED" for r in runs)
    verdicts = next(r for r in runs if r.data.tags["genbench.model"] == "claims")
    claims = json.loads((repo / "reports" / "claims.json").read_text())
    assert set(verdicts.data.tags) >= {f"claim.{c}" for c in claims["claims"]}
    model_runs = [r for r in runs if r.data.tags["genbench.model"] in models]
    assert all("fid" in r.data.metrics for r in model_runs)  # evaluate logged
    stage_runs = [r for r in runs if r.data.tags["genbench.model"] in toolbox]
    assert all(r.data.tags["genbench.kind"] == "analysis" and r.data.metrics for r in stage_runs)

    # nothing changed: a second repro runs nothing
    assert not ran_stages(sh(["dvc", "repro"], repo))

    # a team's results without retraining: `dvc push` to a remote (a local folder here), a
    # fresh clone pulls every output (checkpoints included) and its `dvc repro` runs nothing
    sh(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], repo)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "results"], repo)
    sh(["dvc", "push"], repo)
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    sh(["dvc", "pull"], clone)
    assert (clone / "checkpoints" / f"{models[0]}.pt").exists()
    assert not ran_stages(sh(["dvc", "repro"], clone))
    assert "up to date" in sh(["dvc", "status"], clone)

    # one model's param through `dvc exp run` (Hydra recomposes params.yaml: every override
    # again): only its chain, the stages that read every model's file, and the report rerun
    out = sh(["dvc", "exp", "run", *(f"-S{o}" for o in overrides), "-S",
              "models.vae.latent_dim=8"], repo)
    assert ran_stages(out) == {"params", "train@vae", "sample@vae", "evaluate@vae",
                               "seed@vae-1", "claims", "report", "cluster", "arithmetic",
                               "tangent_prop", "gan_studies"}

    # dropping models: the report lists only the selected one, stale outputs do not leak
    sh(["dvc", "exp", "run", "-S", "data=digits", "-S", "budget=smoke", "-S", "model=[pca]"], repo)
    summary = json.loads((repo / "reports" / "summary.json").read_text())
    assert set(summary["models"]) == {"pca", "real (held-out)"}

    # parallel experiments: two queued, run by two workers; both succeed and both MLflow runs
    # are FINISHED in the repository's one database
    for dim in (4, 6):
        sh(["dvc", "exp", "run", "--queue", "-n", f"q{dim}", "-S", "data=digits", "-S",
            "budget=smoke", "-S", "model=[vae]", "-S", "seeds=[]", "-S",
            f"models.vae.latent_dim={dim}"], repo)
    sh(["dvc", "queue", "start", "-j", "2"], repo)
    deadline = time.time() + 900
    while time.time() < deadline:
        status = sh(["dvc", "queue", "status"], repo)
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(3)
    assert status.count("Success") == 2, status
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("genbench")
    queued = [r for r in client.search_runs([exp.experiment_id], max_results=1000)
              if r.data.tags.get("dvc.exp_name") in ("q4", "q6")]
    assert sorted((r.data.tags["dvc.exp_name"], r.data.tags["genbench.model"]) for r in queued
                  if r.data.tags["genbench.model"] == "vae") == [("q4", "vae"), ("q6", "vae")]
    assert all(r.info.status == "FINISHED" for r in queued)
