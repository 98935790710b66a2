"""The whole DAG through DVC on the tiny dataset, as CI runs it, over one model per kind (every
variant goes through the same stage functions in test_every_config.py): the ``dag`` fixture
copies the repository and runs `make repro`'s runner (chains side by side, `dvc repro
--wait-for-lock`) once, on params composed with data=digits and budget=smoke; each test below
checks one property of that run and names it when it breaks (every stage ran and is recorded,
the report, every metric finite, MLflow's runs, ...). The last tests change the copy, in file
order: a second `dvc repro` is a no-op, a pushed and pulled clone reruns nothing, `dvc exp run`
on a two-model selection without the studies (dropped models leave the report), changing one
model's param reruns only its chain, switching back restores it from the run cache, queued
experiments run side by side."""

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
from types import SimpleNamespace

import pytest
import yaml
from conftest import all_numbers

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def one_model_per_kind(root: Path) -> list[str]:
    """The first model of each kind in the default selection (conf/config.yaml's order)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    first: dict[str, str] = {}
    for name, section in params["models"].items():
        first.setdefault(section["kind"], name)
    return list(first.values())


def dvc_env() -> dict[str, str]:
    """The environment every command here runs in: this venv's tools first, no analytics, and
    no DVC_ROOT inherited from a DVC stage that runs the tests."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1"}
    env.pop("DVC_ROOT", None)
    return env


def sh(cmd: list[str], cwd: Path, timeout: int = 1800, log: Path | None = None) -> str:
    """Run `cmd`, fail with its output's tail. With `log`, its output goes to that file instead
    of a pipe: a command that leaves a daemon behind (`dvc queue start`'s workers inherit its
    stdout) would otherwise keep the pipe open, and this call waiting, as long as the daemon
    lives."""
    env = dvc_env()
    if log is None:
        r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
        out = r.stdout + r.stderr
    else:
        with log.open("w") as f:
            r = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=f,
                               stderr=subprocess.STDOUT, timeout=timeout)
        out = log.read_text()
    assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{out[-6000:]}"
    return out


@pytest.fixture(scope="module")
def repo(root, tmp_path_factory) -> Path:
    """A fresh copy of the repository's code and config (tracked and not-ignored files, without
    the committed results of the default run), as a new git repo."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.split()
    dst = tmp_path_factory.mktemp("repo") / "genbench"
    skip = ("data/", "metrics/", "reports/", "models/", "samples/", "evaluator/", "dvc.lock")
    keep = ("reports/tune.json", "reports/tune/")  # `make tune`'s study: an input of the DAG
    for f in files:
        if (f.startswith(skip) and not f.startswith(keep)) or not (root / f).is_file():
            continue
        (dst / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, dst / f)
    for cmd in (["git", "init", "-q"], ["git", "config", "user.name", "ci"],
                ["git", "config", "user.email", "ci@example.invalid"],  # dvc exp commits too
                ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        sh(cmd, dst)
    return dst


def ran_stages(out: str) -> set[str]:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


@pytest.fixture(scope="module")
def dag(repo, root):
    """The copy after `python -m genbench.repro` on one model per kind at the smoke budget."""
    models = one_model_per_kind(root)
    # one extra seed keeps CI short (a verdict needs 3 seeds: here the stages must only run)
    # tangent prop's encoder: the AE kind's model CI selects (the default, cae, is a variant)
    overrides = ["data=digits", "budget=smoke", f"model=[{','.join(models)}]", "seeds=[1]",
                 "more_seeds=[2]", "tangent_prop.encoder=ae"]
    sh([sys.executable, "-c", "import sys; from genbench.core.config import write_params; "
        "write_params(overrides=sys.argv[1:])", *overrides], repo)
    sh(["git", "commit", "-qam", "digits smoke"], repo)
    sh([sys.executable, "-m", "genbench.repro"], repo)  # what `make repro` runs
    params = yaml.safe_load((repo / "params.yaml").read_text())
    return SimpleNamespace(repo=repo, models=models, params=params,
                           seeded=list(params["seeded"]),
                           more_seeded=list(params["more_seeded"]),
                           report=(repo / "reports" / "report.md").read_text(),
                           vae_model=(repo / "models" / "vae" / "model.pt").read_bytes())


def read(dag, path: str):
    return json.loads((dag.repo / path).read_text())


def test_params_are_the_composed_selection(dag):
    p = dag.params
    assert p["data"]["name"] == "digits" and p["budget"]["name"] == "smoke"
    assert list(p["models"]) == dag.models
    assert dag.seeded and set(dag.seeded) < set(dag.models)  # the models that claims compare
    assert dag.more_seeded and set(dag.more_seeded) < set(dag.seeded)  # ... over 5 seeds


def test_every_stage_ran_and_is_recorded(dag):
    stages = ["params", "download", "preprocess", "evaluator", "toys", "claims", "report",
              "cluster", "arithmetic", "tangent_prop", "text", "captions", "gan_studies",
              "coverage"] + [
        f"{s}@{m}" for s in ("train", "sample", "evaluate") for m in dag.models] + [
        f"seed@{m}-1" for m in dag.seeded] + [f"seed_more@{m}-2" for m in dag.more_seeded]
    lock = yaml.safe_load((dag.repo / "dvc.lock").read_text())["stages"]
    assert set(stages) == set(lock)


def test_each_chain_ran_its_three_stages_in_one_repro(dag):
    logs = dag.repo / ".dvc" / "tmp" / "repro"
    for m in dag.models:
        log = (logs / f"{m}.log").read_text()
        assert {f"train@{m}", f"sample@{m}", f"evaluate@{m}"} == ran_stages(log), log[-2000:]


def test_report_shows_every_model_and_the_translation_section(dag):
    report, repo = dag.report, dag.repo
    assert "real (held-out)" in report and all(f"## {m}" in report for m in dag.models)
    assert (repo / "reports" / "report.html").exists()
    translators = [m for m, sec in dag.params["models"].items()
                   if sec["kind"] in ("pix2pix", "srgan", "cyclegan")]
    assert "## Image-to-image translation" in report and "baseline: bicubic" in report
    assert all(f"**{m}** — rows:" in report for m in translators)
    for m in dag.models:
        assert (repo / "reports" / "figures" / f"{m}_samples.png").stat().st_size > 0
    assert "## Learning curves" in report and "reads as digits" in report


def test_every_model_has_finite_metrics_the_gate_and_its_learning_curve(dag):
    for m in dag.models:
        metrics = read(dag, f"metrics/models/{m}.json")
        assert {"fid", "kid", "is", "precision", "recall", "classes_covered"} <= set(metrics)
        assert all(math.isfinite(v) for v in all_numbers(metrics)), m
        analyses = read(dag, f"metrics/analyses/{m}.json")
        assert all(math.isfinite(v) for v in all_numbers(analyses)), m
        assert isinstance(metrics["collapsed"], bool) and "gate" in metrics, m
        steps = read(dag, f"models/{m}/train.json")["steps"]
        rows = (dag.repo / "metrics" / "curves" / f"{m}.csv").read_text().splitlines()
        assert len(rows) - 1 == (dag.params["train"]["curve_points"] if steps else 0), m


def test_every_analysis_ran_or_says_why_not(dag):
    """The costly ones only for the models they list; the codec analyses for encoders."""
    a = dag.params["analysis"]
    every = ("interpolation", "inpainting", "latent", "tangents", "probe", "robustness",
             "anomaly", "finetune")
    for m in dag.models:
        r = read(dag, f"metrics/analyses/{m}.json")
        assert all((name in r) != (name in r["skipped"]) for name in every), m
        assert ("anomaly" in r) == (m in a["anomaly"]["models"]), m
        assert ("finetune" in r) == (m in a["finetune"]["models"]), m
        if "interpolation" in r:
            figure = dag.repo / "reports" / "analyses" / m / "interpolation.png"
            assert figure.stat().st_size > 0
    for m in ("pca", "ae", "vae"):  # encoder + decoder: the codec analyses run
        r = read(dag, f"metrics/analyses/{m}.json")
        assert {"interpolation", "inpainting", "latent", "tangents", "probe"} <= set(r), m
    assert "interpolation" in read(dag, "metrics/analyses/gan.json")["skipped"]  # no encoder
    assert len(read(dag, "metrics/analyses/ae.json")["anomaly"]["auroc"]) == 10


def test_the_toys_ran_over_the_seeds(dag):
    toys = read(dag, "metrics/toys.json")
    assert set(toys["mixtures"]) == {"ring", "grid"} and toys["line2d"]["updates"] > 0
    assert set(toys["seeds"]) == {"1"} and set(toys["seeds"]["1"]["mixtures"]) == {"ring", "grid"}
    assert all(math.isfinite(v) for v in all_numbers(toys))
    assert "## 2-D GAN experiments" in dag.report


def test_the_claims_are_judged_over_the_seeds(dag):
    """The claims table opens the report; on the tiny data every verdict is computed or says
    why; the extra seed trained the same config with another seed."""
    report = dag.report
    assert report.index("## Claims") < report.index("## Summary")
    claims = read(dag, "reports/claims.json")
    assert claims["summary"]["claims"] >= 25 and claims["summary"]["seeds"] == [0, 1, 2]
    assert claims["summary"]["more_seeds"] == {"seeds": [2], "models": dag.more_seeded}
    for m, s in [(m, 1) for m in dag.seeded] + [(m, 2) for m in dag.more_seeded]:
        extra = read(dag, f"metrics/seeds/{m}/{s}.json")
        main = read(dag, f"metrics/models/{m}.json")
        assert extra["seed"] == s and set(extra["metrics"]) == set(main) - {"curve"}, m
    assert any(len(c.get("seeds", [])) == 2 for c in claims["claims"].values())
    # (the one-model-per-kind selection has no claim between two models with more seeds: that
    # a claim between such models gets all their seeds is test_claims' unit test)
    from genbench.claims import parse_check

    two = [c for c in claims["claims"].values()
           if c.get("terms") and len(parse_check(c["check"])[0]) == 2]
    assert two and all("p_wilcoxon" in c for c in two)
    assert claims["claims"]["ring_gan_misses_modes"]["seeds"] == [0, 1]  # toys over seeds too
    assert all(c["verdict"] in ("holds", "fails", "inconclusive", "not run")
               for c in claims["claims"].values())


def test_the_toolbox_stages_and_their_report_sections(dag):
    """Every encoder's codes clustered, the arithmetic of the selected latent models, tangent
    prop with both tangent sources, the text models."""
    for section in ("## Analyses", "## Few-label fine-tuning", "## One-class anomaly detection",
                    "## Clustering of representations", "### NMF parts vs PCA components",
                    "## Code-space arithmetic", "## Tangent prop",
                    "## Predictive learning on text", "## Modern GANs",
                    "Captions are generated from each digit's label"):
        assert section in dag.report, section
    cl = read(dag, "metrics/cluster.json")
    encoders = {"pca", "ae", "vae", "aae", "rbm", "dbn", "dbm", "nmf"} & set(dag.models)
    assert {"pixels", *encoders} <= set(cl["rows"]) and "gan" in cl["skipped"]
    assert all(0 <= r[a]["purity"] <= 1 for r in cl["rows"].values() for a in ("kmeans", "ward"))
    assert (dag.repo / "reports" / "cluster" / "parts.png").stat().st_size > 0
    ar = read(dag, "metrics/arithmetic.json")
    assert set(ar["models"]) == set(dag.params["arithmetic"]["models"]) & set(dag.models)
    tp = read(dag, "metrics/tangent_prop.json")
    assert tp["variants"][0] == "none" and any(v.startswith("encoder") for v in tp["variants"])
    tx = read(dag, "metrics/text.json")
    assert "TF-IDF (baseline)" in tx["document_similarity"] and tx["documents"]["pairs"] == 1225


def test_the_captions_and_every_modern_gan_study(dag):
    head = (dag.repo / "data" / "captions" / "train.tsv").read_text().splitlines()
    assert head[0].split("\t") == ["index", "label", "thickness", "slant", "size", "caption"]
    assert head[1].split("\t")[-1].startswith("a ")
    gs = read(dag, "metrics/gan_studies.json")
    assert {m: r["study"] for m, r in gs["models"].items()} == {
        "biggan": "truncation", "stylegan": "style", "gan_cls": "text", "stackgan": "text"}
    assert all(math.isfinite(v) for v in all_numbers(gs))
    trunc = gs["models"]["biggan"]["thresholds"]
    assert set(trunc) == {*(f"{t:g}" for t in dag.params["models"]["biggan"]["truncations"]),
                          "none"}
    assert {"ppl_z", "ppl_w", "pairs_different"} <= set(gs["models"]["stylegan"])
    assert set(gs["models"]["gan_cls"]["attributes"]) == {"thickness", "slant", "size"}
    assert "stages" in gs["models"]["stackgan"]
    for f in ("biggan_truncation_curve", "stylegan_mixing", "gan_cls_interpolation",
              "stackgan_stages"):
        assert (dag.repo / "reports" / "gan_studies" / f"{f}.png").stat().st_size > 0


def test_the_summary_and_the_html_pages_links(dag):
    """Every contents link reaches a heading; every image the page shows exists."""
    summary = read(dag, "reports/summary.json")
    assert all(math.isfinite(v) for v in all_numbers(summary))
    assert set(summary["models"]) == {*dag.models, "real (held-out)"}
    keys = {"fid", "kid", "nll_nats", "confidence", "recall", "reads_as_digits", "collapsed"}
    assert all(set(v) <= keys for v in summary["models"].values())
    assert {"fid", "confidence", "recall"} <= set(summary["models"]["real (held-out)"])
    gate = summary["gate"]  # the counts agree with the per-model flags
    gated = [v for n, v in summary["models"].items() if "reads_as_digits" in v]
    assert gate["gated"] == len(gated) and gate["unconditional_gated"] <= len(gated)
    assert gate["read_as_digits"] == sum(v["reads_as_digits"] for v in gated)
    page = (dag.repo / "reports" / "report.html").read_text()
    assert set(re.findall(r'href="#([^"]+)"', page)) <= set(re.findall(r'id="([^"]+)"', page))
    assert all((dag.repo / "reports" / src).exists()
               for src in re.findall(r'src="([^"]+)"', page))


def test_dvc_plots_render_offline(dag, tmp_path):
    """DVC plots are the report's images: the page needs no network (no Vega from a CDN)."""
    plots = tmp_path / "dvc_plots"
    sh(["dvc", "plots", "show", "-o", str(plots)], dag.repo)
    page = (plots / "index.html").read_text()
    assert "<img" in page and "http" not in page
    assert any(f"{m}_losses" in page for m in dag.models)


def test_mlflow_has_one_finished_run_per_model_stage_and_the_claims(dag):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{dag.repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("genbench")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"  # the runs table
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("genbench.kind") == "pipeline"]
    assert len(parents) == 1, "one pipeline run groups the stages' runs"
    runs = [r for r in runs if r not in parents]
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {parents[0].info.run_id}
    toolbox = ["cluster", "arithmetic", "tangent_prop", "text", "gan_studies"]  # stage runs
    assert sorted(r.data.tags["genbench.model"] for r in runs) == sorted([*dag.models, "claims",
                                                                          *toolbox])
    assert all(r.info.status == "FINISHED" for r in runs)
    verdicts = next(r for r in runs if r.data.tags["genbench.model"] == "claims")
    claims = read(dag, "reports/claims.json")
    assert set(verdicts.data.tags) >= {f"claim.{c}" for c in claims["claims"]}
    model_runs = [r for r in runs if r.data.tags["genbench.model"] in dag.models]
    assert all("fid" in r.data.metrics for r in model_runs)  # evaluate logged
    for r in model_runs:  # the data set and budget, and Duration = the training time
        m = r.data.tags["genbench.model"]
        assert (r.data.params["data.name"], r.data.params["budget"]) == ("digits", "smoke")
        assert [d.dataset.name for d in r.inputs.dataset_inputs] == ["digits"]
        log = (dag.repo / ".dvc" / "tmp" / "repro" / f"{m}.log").read_text()
        assert "can be interpreted in multiple ways" not in log, m  # MLflow's dataset warning
        seconds = read(dag, f"models/{m}/train.json")["train_seconds"]
        assert abs((r.info.end_time - r.info.start_time) / 1000 - seconds) < 0.01, m
    stage_runs = [r for r in runs if r.data.tags["genbench.model"] in toolbox]
    assert all(r.data.tags["genbench.kind"] == "analysis" and r.data.metrics for r in stage_runs)


def test_mlflow_sync_sends_the_results_to_another_store_once(dag, tmp_path):
    """`make mlflow-sync`: a store that was not set when the results were made (a team
    server) gets every model's run, the studies' and the claims', without retraining; a second
    sync logs nothing."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'team.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    first = subprocess.run([sys.executable, "-m", "genbench.mlflow_sync"], cwd=dag.repo,
                           env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("genbench").experiment_id])
    logged = sorted(r.data.tags["genbench.model"] for r in runs
                    if r.data.tags["genbench.kind"] != "pipeline")
    studies = ["cluster", "arithmetic", "tangent_prop", "text", "gan_studies", "toys"]
    assert set(logged) == {*dag.models, "claims", *studies} and len(logged) == len(set(logged))
    again = subprocess.run([sys.executable, "-m", "genbench.mlflow_sync"], cwd=dag.repo,
                           env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "0 runs logged" in again.stdout, again.stdout


# ---- from here on the tests change the copy, in this order -----------------------------------
def test_a_second_repro_runs_nothing(dag):
    assert not ran_stages(sh(["dvc", "repro"], dag.repo))


def test_a_pulled_clone_reruns_nothing(dag, tmp_path):
    """A team's results without retraining: `dvc push` to a remote (a local folder here), a
    fresh clone pulls every output (checkpoints included) and its `dvc repro` runs nothing."""
    repo = dag.repo
    sh(["dvc", "remote", "add", "-d", "shared", str(tmp_path / "remote")], repo)
    sh(["git", "add", "-A"], repo)
    sh(["git", "commit", "-qm", "results"], repo)
    sh(["dvc", "push"], repo)
    clone = tmp_path / "clone"
    sh(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    sh(["dvc", "pull"], clone)
    assert not ran_stages(sh(["dvc", "repro"], clone))
    assert "up to date" in sh(["dvc", "status"], clone)


def composed_head(repo: Path) -> bytes:
    return subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=repo, capture_output=True,
                          check=True).stdout


# `make quickstart`'s form with two models: the experiments below run from this selection, so
# each reruns one chain and the stages after it, not the whole toolbox (the whole-DAG run above
# already showed that every study reruns and reads every model)
SMALL = ["data=digits", "budget=smoke", "model=[pca,vae]", "toolbox=none"]


def exp_cmd(*overrides: str) -> list[str]:
    return ["dvc", "exp", "run", *(f"-S{o}" for o in (*SMALL, *overrides))]


def exp_run(repo: Path, *overrides: str) -> str:
    return sh(exp_cmd(*overrides), repo)


def test_a_small_selection_keeps_its_chains_and_runs_stubs_only(dag):
    """toolbox=none: the selected models' chains are the ones already made (same views: not
    rerun), the dropped models leave the report, no extra seed runs, each study writes its
    stub (the report says "not run"), the claims on them are not run."""
    (dag.repo / "models" / "gan" / "model.pt").unlink()  # as in a clone without DVC's cache
    ran = ran_stages(exp_run(dag.repo))
    assert not any(s.startswith(("seed@", "seed_more@")) for s in ran), ran
    assert not any(s.startswith(("train@", "sample@")) for s in ran), ran
    summary = read(dag, "reports/summary.json")
    assert set(summary["models"]) == {"pca", "vae", "real (held-out)"}
    assert read(dag, "metrics/toys.json")["selected"] is False
    report = (dag.repo / "reports" / "report.md").read_text()
    assert "`studies` does not list cluster" in report
    claims = read(dag, "reports/claims.json")["claims"]
    assert claims["ring_gan_misses_modes"]["reason"] == "not selected: toys (studies)"
    # the params stage dropped the lock entries of the stages now gone that miss a file (gan's
    # model: its chain; which others DVC's stash around `exp run` leaves without their files
    # varies: tests/test_lockfile.py checks that entries with all their files stay)
    lock = yaml.safe_load((dag.repo / "dvc.lock").read_text())["stages"]
    assert set(sh(["dvc", "stage", "list", "--name-only"], dag.repo).split()) <= set(lock)
    assert not {"train@gan", "sample@gan", "evaluate@gan"} & set(lock), sorted(lock)


def test_exp_run_of_one_models_param_reruns_only_what_reads_it(dag):
    """Hydra recomposes params.yaml (every override again): only the model's chain, the stages
    that read every model's outputs (coverage: every model's samples; the studies' stubs, which
    depend on the whole models folder) and the report rerun, not pca's chain. A second `dvc exp
    run` started meanwhile stops at once with one line and leaves params.yaml to the first (it
    used to recompose it: the first trained the second's value)."""
    env = dvc_env()
    first = subprocess.Popen(exp_cmd("models.vae.latent_dim=8"), cwd=dag.repo, env=env,
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    running = dag.repo / ".dvc/tmp/exps/run/workspace/workspace.json"  # DVC's, while it runs
    deadline = time.monotonic() + 120
    while not running.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    composed = (dag.repo / "params.yaml").read_bytes()
    second = subprocess.run(exp_cmd("models.vae.latent_dim=4"), cwd=dag.repo, env=env,
                            text=True, capture_output=True, timeout=60, check=False)
    out = first.communicate(timeout=1800)[0]
    assert first.returncode == 0, out[-3000:]
    lines = (second.stdout + second.stderr).strip().splitlines()
    # our check (before DVC composes params.yaml), or, in the instant the first run is writing
    # git's index, DVC's own stop before it (its "unexpected error" with a banner)
    ours = len(lines) == 1 and "this workspace is busy" in lines[0] \
        and "params.yaml was not touched" in lines[0]
    assert second.returncode != 0 and (ours or "index is locked" in lines[0]), lines
    # the second's value never reaches params.yaml (DVC's stash and unstash around the refused
    # run may leave the committed file in its place: docs/pipeline.md, "One run per workspace")
    assert (dag.repo / "params.yaml").read_bytes() in (composed, composed_head(dag.repo))
    assert "latent_dim: 4" not in (dag.repo / "params.yaml").read_text()
    view = json.loads((dag.repo / "params/train/vae.json").read_text())
    assert view["models"]["vae"]["latent_dim"] == 8  # the first run's value
    assert ran_stages(out) == {"params", "train@vae", "sample@vae", "evaluate@vae", "claims",
                               "report", "cluster", "arithmetic", "tangent_prop", "gan_studies",
                               "coverage"}


def test_switching_back_restores_the_chain_from_the_run_cache(dag):
    """The same params again: DVC's run cache restores train@vae and sample@vae (no persist or
    uncached output), so nothing trains; evaluate@vae (its metrics are git-tracked, uncached
    outputs) reruns and logs its MLflow run; the model file is the one first trained."""
    exp_run(dag.repo, "models.vae.latent_dim=8")  # made by the test above: restored, or run
    out = exp_run(dag.repo)
    assert not {"train@vae", "sample@vae"} & ran_stages(out), out[-2000:]
    assert "train@vae' is cached" in out or "Restored stage 'train@vae'" in out, out[-2000:]
    assert (dag.repo / "models" / "vae" / "model.pt").read_bytes() == dag.vae_model


def test_queued_experiments_run_side_by_side_into_one_mlflow_database(dag, tmp_path):
    """Two queued, run by two workers; both succeed and both MLflow runs are FINISHED (one
    model, no study: `toolbox=none`, what the quickstart runs)."""
    from mlflow import MlflowClient

    repo = dag.repo
    for dim in (4, 6):
        sh(["dvc", "exp", "run", "--queue", "-n", f"q{dim}", "-S", "data=digits", "-S",
            "budget=smoke", "-S", "model=[vae]", "-S", "toolbox=none", "-S",
            f"models.vae.latent_dim={dim}"], repo)
    # the workers outlive `queue start` (they idle 60 s after the queue empties, and once one
    # stayed up for good): its output goes to a file, and the workers are stopped when done
    sh(["dvc", "queue", "start", "-j", "2"], repo, timeout=120, log=tmp_path / "start.log")
    try:
        deadline = time.time() + 900
        while time.time() < deadline:
            status = sh(["dvc", "queue", "status"], repo)
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(3)
    finally:
        sh(["dvc", "queue", "stop"], repo, timeout=120)
    assert status.count("Success") == 2, status
    client = MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("genbench")
    queued = [r for r in client.search_runs([exp.experiment_id], max_results=1000)
              if r.data.tags.get("dvc.exp_name") in ("q4", "q6")]
    assert sorted((r.data.tags["dvc.exp_name"], r.data.tags["genbench.model"]) for r in queued
                  if r.data.tags.get("genbench.model") == "vae") == [("q4", "vae"), ("q6", "vae")]
    assert all(r.info.status == "FINISHED" for r in queued)
    # one pipeline run per queued experiment, each experiment's runs nested under its own
    parents = {r.data.tags["dvc.exp_name"]: r.info.run_id for r in queued
               if r.data.tags["genbench.kind"] == "pipeline"}
    assert sorted(parents) == ["q4", "q6"]
    assert all(r.data.tags["mlflow.parentRunId"] == parents[r.data.tags["dvc.exp_name"]]
               for r in queued if r.data.tags["genbench.kind"] != "pipeline")
