"""The tuning study's report section (``make tune``, :mod:`genbench.pipeline.tune.run`): the
protocol, the claims judged on each arm's best trial, and every trial per arm."""

from __future__ import annotations

import math

import pandas as pd

from genbench.doc import Heading, Images, Para, Table


def _claims(t: dict) -> pd.DataFrame:
    arms = t["arms"]
    rows = {}
    for cid, models in t["claims"].items():
        best = [arms[m]["best_fid"] for m in models]
        med = [arms[m]["median_fid"] for m in models]
        rows[cid] = {"arms (first should be better)": " vs ".join(models),
                     "best val FID": " vs ".join(f"{v:.0f}" for v in best),
                     "median val FID": " vs ".join(f"{v:.0f}" for v in med),
                     "recipe val FID": " vs ".join(f"{arms[m]['recipe_fid']:.0f}"
                                                   for m in models),
                     "best-of-trials order": "as claimed" if best[0] < min(best[1:])
                     else "reversed"}
    return pd.DataFrame(rows).T


def _trials(t: dict, arm: str) -> pd.DataFrame:
    rows = {}
    for r in t["trials"]:
        if r["arm"] != arm:
            continue
        label = "recipe" if r["trial"] == "recipe" else f"trial {r['trial']}"
        rows[label] = {**r["values"], "steps": r["steps"],
                       "CPU-s": round(r["train_cpu_seconds"]),
                       "val FID ↓": r["val"]["fid"], "recall ↑": r["val"]["recall"],
                       "confidence": r["val"]["mean_confidence"]}
    df = pd.DataFrame(rows).T
    return df.sort_values("val FID ↓", key=lambda s: s.astype(float).fillna(math.inf),
                          kind="stable")


def section(t: dict, fig: str | None = None) -> list:
    c = t["config"]
    out = [Heading(2, "Tuning study"),
           Para(f"`make tune` (src/genbench/pipeline/tune/run.py, conf/tune.yaml; not part of "
                f"`make repro`), after Lucic et al. (2018): every arm of the claims below gets "
                f"the same search budget, {c['trials']} random-search draws (Optuna's "
                f"RandomSampler, seed {c['seed']}; every arm draws from the same stream, so "
                f"arms with the same hyper-parameters try the same settings) over what its "
                f"class declares (`search_space`: each player's learning rate log-uniform in "
                f"[5e-5, 2e-3], Adam's β1 ∈ {{0, 0.5}} and β2 ∈ {{0.9, 0.999}}, "
                f"{{1, 5}} discriminator steps per generator step; the penalty weight in "
                f"[1, 30]; the clip in [0.003, 0.03]), plus its own recipe as a reference "
                f"trial. Every trial trains for the same {c['cpu_seconds']:g} CPU-seconds "
                f"(its steps from a timed {c['calibration_steps']}-step run of that very "
                f"configuration: five critic steps or a penalty buy fewer generator steps) and "
                f"is scored on the validation split ({c['n_samples']} samples against its "
                f"images, in the evaluator's feature space; the test split is not read). Each "
                f"arm's best trial is its conf/tuned/<arm>.yaml, which the default run trains "
                f"(the claims table judges those, over the seeds). Run {t['date']} on "
                f"{t['cpu']}: {len(t['trials'])} trials, {c['jobs']} at a time, "
                f"{t['wall_seconds'] / 60:.0f} min wall."),
           Para("The best of a search is an optimistic estimate of an arm (its seed-0 run is "
                "the very trial chosen); the median says how forgiving the arm is to its "
                "settings. The claims stage re-judges every claim on fresh seeds."),
           Table(_claims(t))]
    if fig:
        out.append(Images([(f"{fig}/trials.png", "validation FID of every trial per arm",
                            640)]))
    from genbench.pipeline.tune.run import arm_order

    for arm in arm_order(t):
        out += [Heading(3, f"{arm}: {t['arms'][arm]['trials']} trials + recipe", toc=False),
                Table(_trials(t, arm))]
    return out
