"""``make tune`` (``python -m genbench.pipeline.tune.run``): the tuning study behind the comparative claims (not part of ``make repro``).

The standard (Lucic et al. 2018, "Are GANs Created Equal? A Large-Scale Study", §4–5): compare
models after the *same* hyper-parameter search budget for each, since with equal budgets most
published differences between GAN losses shrink or vanish. Here:

- **Arms**: every model operand of the claims named in ``conf/tune.yaml`` (``claims``).
- **Trials**: per arm, ``trials`` draws of a seeded random search (Optuna's
  :class:`~optuna.samplers.RandomSampler`, ask-and-tell) over the hyper-parameters its class
  declares (``search_space(cfg)`` on the model class: learning rates, Adam's betas, critic
  steps, penalty weight, clip…), plus the arm's own recipe (its conf/model file) as a reference
  trial ``recipe``, not counted in ``trials``. Every arm draws from the same seeded stream
  (common random numbers): arms with the same space try the same settings, trial by trial.
- **Equal compute**: every trial trains for the same CPU-seconds (``cpu_seconds``), not the same
  steps: a short timed run of the trial's own configuration (``calibration_steps``, its
  schedule compressed to that length, e.g. ProGAN's growing phases) gives its CPU-seconds per
  step, and the trial then trains ``cpu_seconds / that`` steps. A slower setting (five critic
  steps, a penalty) gets fewer generator steps: the comparison is per unit of compute.
- **Validation, never test**: a trial is scored by FID (and recall, confidence) of
  ``n_samples`` samples against the **validation split**'s images in the evaluator's feature
  space (the default run scores against the train split; the test split is not read here).
- ``jobs`` trials run side by side, one thread each (what ``make repro`` does per stage).

Outputs: ``reports/tune.json`` (every trial: its values, steps, CPU-seconds, validation
metrics; per arm the best trial, median and spread; read by the report's tuning section,
:mod:`genbench.pipeline.tune.report`), ``reports/tune/trials.png`` (every trial's validation FID
per arm) and
``conf/tuned/<arm>.yaml`` (the best trial's values and steps; with ``final_cpu_seconds`` ≠
``cpu_seconds``, the steps that give it at the trial's measured speed), which the arm's conf/model file includes after
its own values, so the default run trains the tuned configuration at equal CPU-seconds across
arms. Every trial is an MLflow run in experiment ``<mlflow.experiment>-tune``.

Re-running ``make tune`` redoes the same draws with the same seeds; the steps of a trial come
from a timing, so they (and the results) agree with the committed table up to the timing
noise of the calibration (the table records each trial's steps and measured CPU-seconds).
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from genbench.core.errors import ConfigError, GenbenchError

log = logging.getLogger("genbench.tune")

FORMAT = 1


class TuneConfig(BaseModel):
    """conf/tune.yaml, validated once here."""

    model_config = ConfigDict(extra="forbid")
    claims: list[str] = Field(min_length=1)  # conf/claims.yaml ids whose model operands are tuned
    trials: int = Field(ge=1)  # random-search draws per arm (the recipe trial comes on top)
    cpu_seconds: float = Field(gt=0)  # training CPU-seconds of every trial
    final_cpu_seconds: float = Field(gt=0)  # the default run's training CPU-seconds per arm
    calibration_steps: int = Field(default=40, ge=10)  # the timed run that sets a trial's steps
    n_samples: int = Field(ge=10)  # samples scored against the validation split
    jobs: int = Field(default=2, ge=1)
    seed: int = Field(default=0, ge=0)  # the search's and every trial's training seed
    min_steps: int = Field(default=50, ge=1)


# ------------------------------------------------------------------ what is searched, per arm
def arms_of(claims_file: Path | str, ids: list[str]) -> dict[str, list[str]]:
    """``{claim id: [model operands in order]}`` of the named claims (one line naming an
    unknown id)."""
    from genbench.claims import load_claims, parse_check

    cf = load_claims(claims_file)
    by_id = {c.id: c for c in cf.claims}
    out = {}
    for cid in ids:
        if cid not in by_id:
            raise ConfigError(f"conf/tune.yaml: claims: {cid!r} is not a claim id of "
                              f"{claims_file}")
        operands, _ = parse_check(by_id[cid].check)
        out[cid] = list(dict.fromkeys(o.model for o in operands
                                      if o.model is not None and o.model != "toys"))
    return out


def space_of(params, arm: str) -> dict[str, tuple]:
    """The arm's search space as its class declares it for its configuration."""
    from genbench.models.registry import model_class, model_config_of

    cfg = model_config_of(params, arm)
    cls = model_class(cfg.kind)
    declare = getattr(cls, "search_space", None)
    if declare is None:
        raise ConfigError(f"models.{arm}: its class {cls.__name__} declares no search_space; "
                          f"`make tune` cannot tune it (remove its claim from conf/tune.yaml)")
    return declare(cfg)


def draw_trials(space: dict[str, tuple], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` random-search draws from ``space`` ({name: ("log", lo, hi) | ("uniform", lo, hi)
    | ("choice", values)}), seeded; Optuna's RandomSampler through its ask interface."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        t = study.ask()
        row = {}
        for name, spec in space.items():
            if spec[0] == "log":
                row[name] = t.suggest_float(name, spec[1], spec[2], log=True)
            elif spec[0] == "uniform":
                row[name] = t.suggest_float(name, spec[1], spec[2])
            elif spec[0] == "choice":
                row[name] = t.suggest_categorical(name, list(spec[1]))
            else:
                raise ConfigError(f"search space {name}: unknown distribution {spec[0]!r}")
        out.append({k: _round(v) for k, v in row.items()})
    return out


def _round(v):
    """Four significant digits: a config value a person can read (and write back)."""
    return float(f"{v:.4g}") if isinstance(v, float) else v


# ------------------------------------------------------------------ one trial (a worker process)
def _section(params, arm: str, values: dict, steps: int) -> dict:
    return {**params.models[arm], **values, "steps": steps}


def _train(params, arm, section, split, meta, steps, snapshots=()):
    import torch

    from genbench.core import engine
    from genbench.core import transforms as T
    from genbench.models.registry import model_class, model_config

    cfg = model_config(arm, section)
    torch.manual_seed(params.seed)
    model = model_class(cfg.kind)(cfg, tuple(meta["shape"]), meta["num_classes"])
    quiet = params.train.model_copy(update={"progress": False, "log_every": 10**9})
    result = engine.fit(model, split, transform=T.get(model.input_transform), steps=steps,
                        batch_size=cfg.batch_size, seed=params.seed, engine=quiet, name=arm,
                        snapshots=snapshots)
    return model, result


def run_trial(job: dict) -> dict:
    """Calibrate, train ``job["values"]`` of arm ``job["arm"]`` for the budget's CPU-seconds,
    score its samples on the validation split. Runs in a worker process (one thread)."""
    import torch

    from genbench import evaluator as E
    from genbench.core import data as D
    from genbench.nn import classifier as NC
    from genbench.params import load_params
    from genbench.pipeline.sample import draw

    torch.set_num_threads(1)
    params = load_params(job["params"])
    params = params.model_copy(update={"seed": job["seed"]})
    meta = D.load_meta(job["data"])
    split = D.load_split(job["data"], "train")
    arm, values, tc = job["arm"], job["values"], job["tune"]
    # calibration: the trial's own configuration, its schedule compressed to the timed length;
    # the first ~quarter of its steps (allocation, caches) is not timed
    n_cal = tc["calibration_steps"]
    warm = max(1, n_cal // 4)
    _, cal = _train(params, arm, _section(params, arm, values, n_cal), split, meta, n_cal,
                    snapshots=[warm, n_cal])
    t = {p["step"]: p["cpu_seconds"] for p in cal.snapshots}
    per_step = (t[n_cal] - t[warm]) / (n_cal - warm)
    steps = max(tc["min_steps"], round(tc["cpu_seconds"] / per_step))
    c0 = time.process_time()
    model, res = _train(params, arm, _section(params, arm, values, steps), split, meta, steps,
                        snapshots=[steps])
    cpu = res.snapshots[-1]["cpu_seconds"] if res.snapshots else time.process_time() - c0
    # validation score: the evaluator's space, the val split as the reference (never test)
    classifier = NC.load_classifier(job["evaluator"])
    extract = E.FeatureExtractor(classifier, params.evaluator)
    val = D.load_split(job["data"], "val")
    ref = E.reference_features(extract, val.x)
    ref = {k: v.double() for k, v in ref.items()}
    g = torch.Generator().manual_seed(job["seed"])
    stored, _ = draw(model.cpu(), tc["n_samples"], g)
    m = E.metrics_of_features(extract(stored["x"]), ref, params.evaluator, meta["num_classes"],
                              job["seed"])
    return {"arm": arm, "trial": job["trial"], "values": values, "steps": steps,
            "cpu_seconds_per_step": per_step, "train_cpu_seconds": cpu,
            "train_seconds": res.seconds,
            "val": {k: m[k] for k in ("fid", "precision", "recall", "mean_confidence",
                                      "min_class_share", "classes_covered") if k in m},
            "n_val": len(val), "n_samples": tc["n_samples"]}


# ------------------------------------------------------------------ the study
def recipe_values(params, arm: str, space: dict, conf_dir: Path = Path("conf")) -> dict:
    """The arm's hand-set recipe of the searched hyper-parameters (its reference trial): its
    conf/model file without the tuned values (so a rerun of the study tries the same recipe)."""
    from genbench.core.config import read_model_conf
    from genbench.models.registry import model_config

    section = {**params.models[arm],
               **read_model_conf(conf_dir / "model" / f"{arm}.yaml", tuned=False)}
    cfg = model_config(arm, section)
    return {k: getattr(cfg, k) for k in space}


def plan(params, tc: TuneConfig, claims_file: Path) -> tuple[dict, list[dict]]:
    """(arms per claim, the trial jobs: per arm its recipe and ``trials`` draws)."""
    per_claim = arms_of(claims_file, tc.claims)
    arms = list(dict.fromkeys(a for ms in per_claim.values() for a in ms))
    missing = [a for a in arms if a not in params.models]
    if missing:
        raise ConfigError(f"conf/tune.yaml: the claims' models {', '.join(missing)} are not in "
                          f"params.yaml's models (make params with them selected)")
    jobs = []
    for arm in arms:
        space = space_of(params, arm)
        # common random numbers: every arm draws from the same seeded stream, so arms with the
        # same space (gan and gan_mm; dcgan and lsgan) try the same settings, trial by trial
        draws = draw_trials(space, tc.trials, tc.seed)
        jobs.append({"arm": arm, "trial": "recipe", "values": recipe_values(params, arm, space)})
        jobs += [{"arm": arm, "trial": k, "values": v} for k, v in enumerate(draws)]
    return per_claim, jobs


def _best(trials: list[dict]) -> dict:
    """The trial with the lowest finite validation FID (a diverged trial never wins)."""
    return min(trials, key=lambda t: (not math.isfinite(t["val"]["fid"]), t["val"]["fid"]))


def summarize(trials: list[dict]) -> dict:
    """Per arm: the best trial by validation FID, the search's median and spread (the random
    draws only: the recipe trial is reported beside them)."""
    import statistics

    out = {}
    for arm in dict.fromkeys(t["arm"] for t in trials):
        mine = [t for t in trials if t["arm"] == arm]
        search = [t for t in mine if t["trial"] != "recipe"]
        fids = [t["val"]["fid"] for t in search if math.isfinite(t["val"]["fid"])]
        best = _best(mine)
        recipe = next((t for t in mine if t["trial"] == "recipe"), None)
        out[arm] = {"trials": len(search), "finite": len(fids),
                    "best_trial": best["trial"], "best_fid": best["val"]["fid"],
                    "best_recall": best["val"]["recall"], "best_values": best["values"],
                    "best_steps": best["steps"],
                    "median_fid": statistics.median(fids) if fids else math.nan,
                    "min_fid": min(fids) if fids else math.nan,
                    "max_fid": max(fids) if fids else math.nan,
                    "recipe_fid": recipe["val"]["fid"] if recipe else math.nan,
                    "cpu_seconds": [round(min(t["train_cpu_seconds"] for t in mine), 1),
                                    round(max(t["train_cpu_seconds"] for t in mine), 1)]}
    return out


def tuned_yaml(arm: str, best: dict, tc: TuneConfig, when: str) -> str:
    """conf/tuned/<arm>.yaml: the best trial's values, and the steps that give the default
    run's ``final_cpu_seconds`` at that trial's measured CPU-seconds per step."""
    steps = best["steps"] if tc.final_cpu_seconds == tc.cpu_seconds else \
        max(tc.min_steps, round(tc.final_cpu_seconds / best["cpu_seconds_per_step"]))
    how = (f"the trial's own steps ({tc.cpu_seconds:g} CPU-seconds by its timed calibration "
           f"run)" if steps == best["steps"] else
           f"{tc.final_cpu_seconds:g} CPU-seconds at its measured "
           f"{best['cpu_seconds_per_step'] * 1000:.1f} ms per step")
    head = (f"# Written by `make tune` ({when}; src/genbench/pipeline/tune/run.py): the best of "
            f"{tc.trials} random-search\n# trials + the recipe for {arm} at "
            f"{tc.cpu_seconds:g} CPU-seconds each (trial {best['trial']}: validation FID "
            f"{best['val']['fid']:.1f});\n# steps: {how}.\n# Edit conf/tune.yaml and rerun "
            f"`make tune`, not this.\n")
    return head + yaml.safe_dump({**best["values"], "steps": steps}, sort_keys=False)


def arm_order(result: dict) -> list[str]:
    """The arms in the order the claims name them (reports/tune.json's keys are sorted)."""
    named = [a for ms in result["claims"].values() for a in ms if a in result["arms"]]
    return list(dict.fromkeys(named + list(result["arms"])))


def draw_figure(result: dict, out_dir: Path | str) -> Path:
    """``trials.png``: each arm's trials' validation FID (dots; the recipe a ring, the best
    trial filled black), arms in the claims' order: the spread a search budget buys."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genbench.core.io import save_figure

    arms = arm_order(result)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(arms), 3.6))
    for i, arm in enumerate(arms):
        mine = [t for t in result["trials"] if t["arm"] == arm]
        search = [t["val"]["fid"] for t in mine if t["trial"] != "recipe"]
        xs = [i + 0.12 * ((k % 5) - 2) for k in range(len(search))]
        ax.scatter(xs, search, s=18, color="tab:blue", alpha=0.7,
                   label="random-search trial" if i == 0 else None)
        for t in mine:
            if t["trial"] == "recipe":
                ax.scatter([i], [t["val"]["fid"]], s=60, facecolors="none",
                           edgecolors="tab:red", label="recipe" if i == 0 else None)
        best = result["arms"][arm]["best_fid"]
        ax.scatter([i], [best], s=30, color="black", marker="_", linewidths=2,
                   label="best" if i == 0 else None)
    ax.set_xticks(range(len(arms)), arms, rotation=30)
    ax.set_yscale("log")
    ax.set_ylabel("validation FID (log)")
    cfg = result["config"]
    ax.set_title(f"{cfg['trials']} trials + recipe per arm, {cfg['cpu_seconds']:g} CPU-s each",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = Path(out_dir) / "trials.png"
    save_figure(path, fig)
    plt.close(fig)
    return path


def _log_mlflow(cfg, trial: dict, tc: TuneConfig) -> None:
    from genbench import tracking

    mcfg = cfg.model_copy(update={"experiment": f"{cfg.experiment}-tune"})
    with tracking.run(mcfg, model=f"{trial['arm']}/{trial['trial']}", kind="tune") as r:
        if r._m is None:
            return
        r.log_params({"arm": trial["arm"], "trial": trial["trial"], "steps": trial["steps"],
                      "cpu_seconds": tc.cpu_seconds, "n_samples": tc.n_samples,
                      "reference": "val split", **{f"model.{k}": v
                                                   for k, v in trial["values"].items()}})
        r.log_metrics({"train_cpu_seconds": trial["train_cpu_seconds"],
                       **{f"val.{k}": v for k, v in trial["val"].items()}})


def tune(tc: TuneConfig, *, params_path="params.yaml", claims_file="conf/claims.yaml",
         data="data/processed", evaluator="evaluator/classifier.pt", out="reports/tune.json",
         tuned_dir="conf/tuned", fig_dir="reports/tune", arms: list[str] | None = None) -> dict:
    """Run the study (``arms``: only these, for a partial rerun that keeps the others' rows)
    and write its outputs (:func:`write_outputs`)."""
    from genbench.core.io import read_json
    from genbench.params import load_params

    params = load_params(params_path)
    for p in (Path(data) / "train.pt", Path(evaluator)):
        if not p.exists():
            raise ConfigError(f"{p}: not found; `make repro` (or dvc repro evaluator) first")
    per_claim, jobs = plan(params, tc, Path(claims_file))
    if arms:
        unknown = set(arms) - {j["arm"] for j in jobs}
        if unknown:
            raise ConfigError(f"--arms: {', '.join(sorted(unknown))} is not an arm of "
                              f"conf/tune.yaml's claims")
        jobs = [j for j in jobs if j["arm"] in arms]
    common = {"params": str(params_path), "data": str(data), "evaluator": str(evaluator),
              "seed": tc.seed, "tune": tc.model_dump()}
    t0 = time.perf_counter()
    done: list[dict] = []
    with ProcessPoolExecutor(max_workers=tc.jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_trial, {**common, **j}) for j in jobs]
        for f in futures:
            row = f.result()
            done.append(row)
            log.info("%s trial %s: %d steps, %.0f CPU-s, val FID %.1f, recall %.3f",
                     row["arm"], row["trial"], row["steps"], row["train_cpu_seconds"],
                     row["val"]["fid"], row["val"]["recall"])
            _log_mlflow(params.mlflow, row, tc)
    previous = read_json(out)["trials"] if arms and Path(out).exists() else []
    trials = [t for t in previous if t["arm"] not in set(arms or ())] + done
    result = {"format": FORMAT, "config": tc.model_dump(), "claims": per_claim,
              "date": time.strftime("%Y-%m-%d"), "cpu": _cpu_model(),
              "wall_seconds": time.perf_counter() - t0, "trials": trials,
              "arms": summarize(trials)}
    write_outputs(result, out, tuned_dir, fig_dir)
    return result


def write_outputs(result: dict, out="reports/tune.json", tuned_dir="conf/tuned",
                  fig_dir="reports/tune") -> None:
    """reports/tune.json, each arm's conf/tuned/<arm>.yaml (its best trial) and the figure."""
    from genbench.core.io import write_json, write_text

    tc = TuneConfig.model_validate(result["config"])
    write_json(out, result)
    Path(tuned_dir).mkdir(parents=True, exist_ok=True)
    for arm in result["arms"]:
        mine = [t for t in result["trials"] if t["arm"] == arm]
        best = _best(mine)
        write_text(Path(tuned_dir) / f"{arm}.yaml", tuned_yaml(arm, best, tc, result["date"]))
    Path(fig_dir).mkdir(parents=True, exist_ok=True)
    draw_figure(result, fig_dir)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return re.sub(r"\s+", " ", line.split(":", 1)[1]).strip()
    except OSError:
        pass
    return "unknown"


def load_tune_config(path: Path | str = "conf/tune.yaml") -> TuneConfig:
    from genbench.core.config import validate

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: not found")
    return validate(TuneConfig, yaml.safe_load(path.read_text()) or {}, "tune")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m genbench.pipeline.tune.run",
                                description=__doc__.split("\n")[0])
    p.add_argument("--config", default="conf/tune.yaml")
    p.add_argument("--arms", nargs="*", help="rerun only these arms (the others' rows are kept)")
    p.add_argument("--out", default="reports/tune.json")
    p.add_argument("--tuned-dir", default="conf/tuned")
    p.add_argument("--figures", default="reports/tune")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--redraw", action="store_true",
                   help="no training: rewrite conf/tuned/ and the figure from --out")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "optuna", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if a.redraw:
            from genbench.core.io import read_json

            res = read_json(a.out)
            write_outputs(res, a.out, a.tuned_dir, a.figures)
        else:
            res = tune(load_tune_config(a.config), params_path=a.params, out=a.out,
                       tuned_dir=a.tuned_dir, fig_dir=a.figures, arms=a.arms)
    except GenbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    for arm, s in res["arms"].items():
        print(f"{arm:10s} best {s['best_trial']!s:>6} val FID {s['best_fid']:7.1f}  median "
              f"{s['median_fid']:7.1f}  recipe {s['recipe_fid']:7.1f}")
    print(f"{len(res['trials'])} trials in {res['wall_seconds'] / 60:.1f} min")


if __name__ == "__main__":
    main()
