"""The tuning study (``make tune``, src/genbench/pipeline/tune/): the search each arm gets, the
equal budget, the validation split, and that its committed outputs (reports/tune.json,
conf/tuned/) agree with each other and with what the default run trains."""

from __future__ import annotations

import math
import shutil

import pytest
import yaml
from conftest import ROOT

from genbench.core.config import compose_params, read_model_conf
from genbench.core.errors import ConfigError
from genbench.pipeline.tune import run as T

TUNE_JSON = ROOT / "reports" / "tune.json"


@pytest.fixture(scope="module")
def tc():
    return T.load_tune_config(ROOT / "conf" / "tune.yaml")


def test_every_arm_declares_a_search_space_its_config_accepts(params, tc):
    """Each arm of the tuned claims has a space, and its ends validate as that arm's config."""
    from genbench.models.registry import model_config

    per_claim = T.arms_of(ROOT / "conf" / "claims.yaml", tc.claims)
    arms = {a for ms in per_claim.values() for a in ms}
    assert len(arms) >= 2 and all(len(ms) >= 2 for ms in per_claim.values())
    for arm in arms:
        space = T.space_of(params, arm)
        assert {"lr_gen", "lr_disc", "d_steps"} <= set(space), arm
        for end in (0, -1):
            values = {k: (s[1] if end == 0 else s[2]) if s[0] != "choice" else s[1][end]
                      for k, s in space.items()}
            model_config(arm, {**params.models[arm], **values})  # raises on a bad value


def test_draws_are_seeded_in_range_and_shared_across_arms(params, tc):
    space = {"lr": ("log", 1e-4, 1e-2), "k": ("choice", (1, 5)), "u": ("uniform", 0.0, 1.0)}
    a, b = T.draw_trials(space, 8, seed=3), T.draw_trials(space, 8, seed=3)
    assert a == b and a != T.draw_trials(space, 8, seed=4)
    assert all(1e-4 <= d["lr"] <= 1e-2 and d["k"] in (1, 5) and 0 <= d["u"] <= 1 for d in a)
    assert len({d["lr"] for d in a}) == 8
    # common random numbers: arms with the same space try the same settings, trial by trial
    _, jobs = T.plan(params, tc, ROOT / "conf" / "claims.yaml")
    by_arm = {}
    for j in jobs:
        by_arm.setdefault(j["arm"], []).append(j)
    assert [j["values"] for j in by_arm["gan"][1:]] == [j["values"] for j in by_arm["gan_mm"][1:]]
    assert all(len(js) == tc.trials + 1 and js[0]["trial"] == "recipe" for js in by_arm.values())


def test_recipe_trial_is_the_hand_set_recipe(params, tc):
    """The reference trial is the conf/model file without its tuned values, so rerunning the
    study after its values were adopted tries the same recipe."""
    for arm in ("gan", "dcgan", "wgan"):
        space = T.space_of(params, arm)
        recipe = read_model_conf(ROOT / "conf" / "model" / f"{arm}.yaml", tuned=False)
        got = T.recipe_values(params, arm, space, ROOT / "conf")
        assert all(got[k] == recipe[k] for k in space if k in recipe), arm


def test_unknown_claim_is_one_line():
    with pytest.raises(ConfigError, match="'no_such_claim' is not a claim id"):
        T.arms_of(ROOT / "conf" / "claims.yaml", ["no_such_claim"])


def _trial(arm, trial, fid, steps=100, per_step=0.01):
    return {"arm": arm, "trial": trial, "values": {"lr_gen": 1e-3 if trial == "recipe" else 2e-4},
            "steps": steps, "cpu_seconds_per_step": per_step, "train_cpu_seconds": 1.0,
            "train_seconds": 1.0, "val": {"fid": fid, "recall": 0.5, "mean_confidence": 0.9}}


def test_summary_picks_the_best_trial_and_writes_it_as_the_tuned_config(tc):
    trials = [_trial("a", "recipe", 50.0), _trial("a", 0, 40.0, steps=77), _trial("a", 1, 90.0),
              _trial("a", 2, math.nan)]
    s = T.summarize(trials)["a"]
    assert (s["best_trial"], s["best_fid"], s["trials"], s["finite"]) == (0, 40.0, 3, 2)
    assert s["median_fid"] == 65.0 and s["recipe_fid"] == 50.0
    tuned = yaml.safe_load(T.tuned_yaml("a", trials[1], tc, "2026-01-01"))
    assert tuned == {"lr_gen": 2e-4, "steps": 77}  # the trial's own steps at an equal budget
    other = tc.model_copy(update={"final_cpu_seconds": 2 * tc.cpu_seconds})
    assert yaml.safe_load(T.tuned_yaml("a", trials[1], other, "x"))["steps"] == \
        round(2 * tc.cpu_seconds / 0.01)


@pytest.mark.skipif(not TUNE_JSON.exists(), reason="make tune has not been run")
def test_committed_study_agrees_with_conf_tuned_and_params(tc):
    """Each arm's conf/tuned file is its best trial in reports/tune.json, and the composed
    params (what the default run trains) carry those values and steps."""
    t = yaml.safe_load(TUNE_JSON.read_text())
    assert t["config"] == tc.model_dump(), "conf/tune.yaml changed since the study: make tune"
    composed = compose_params(conf_dir=ROOT / "conf")["models"]
    for arm, s in t["arms"].items():
        assert s["trials"] == tc.trials
        tuned = yaml.safe_load((ROOT / "conf" / "tuned" / f"{arm}.yaml").read_text())
        assert tuned == {**s["best_values"], "steps": s["best_steps"]}, arm
        assert all(composed[arm][k] == v for k, v in tuned.items()), \
            f"{arm}: conf/model/{arm}.yaml does not include /tuned/{arm}@_here_ last"
        spent = [r["train_cpu_seconds"] for r in t["trials"] if r["arm"] == arm]
        assert max(spent) <= 1.5 * tc.cpu_seconds and min(spent) >= 0.5 * tc.cpu_seconds


def test_report_section_renders_the_committed_study():
    from genbench.doc import Doc, to_markdown
    from genbench.pipeline.tune.report import section

    if not TUNE_JSON.exists():
        pytest.skip("make tune has not been run")
    t = yaml.safe_load(TUNE_JSON.read_text())
    doc = Doc("t")
    doc.add(*section(t, "tune"))
    md = to_markdown(doc)
    assert "## Tuning study" in md and all(c in md for c in t["claims"])


@pytest.mark.slow
def test_study_runs_end_to_end_without_the_test_split(digits_workdir, tmp_path):
    """Two arms, two draws each + recipe, on the tiny digits at a tiny budget, with the test
    split deleted: the study trains, scores on val, and writes its table, configs and figure."""
    from genbench.core import config as C
    from genbench.params import load_params
    from genbench.pipeline.prepare import train_evaluator

    raw = compose_params(["data=digits", "budget=smoke", "model=[gan,gan_mm]"],
                         conf_dir=ROOT / "conf")
    raw["mlflow"]["enabled"] = False
    raw["train"]["progress"] = False
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    data = tmp_path / "processed"
    shutil.copytree(digits_workdir / "data" / "processed", data)
    params = load_params(tmp_path / "params.yaml")
    clf = tmp_path / "clf.pt"
    train_evaluator(C.EvaluatorView.of(params), data, clf, tmp_path / "ev.json",
                    tmp_path / "ck.pt", tmp_path / "unpaired.pt")
    (data / "test.pt").unlink()  # the study must not need it
    tc = T.TuneConfig(claims=["ns_beats_minimax"], trials=2, cpu_seconds=0.3,
                      final_cpu_seconds=0.3, calibration_steps=10, n_samples=60, jobs=1,
                      min_steps=5)
    res = T.tune(tc, params_path=tmp_path / "params.yaml",
                 claims_file=ROOT / "conf" / "claims.yaml", data=data, evaluator=clf,
                 out=tmp_path / "tune.json", tuned_dir=tmp_path / "tuned",
                 fig_dir=tmp_path / "fig")
    assert sorted(res["arms"]) == ["gan", "gan_mm"] and len(res["trials"]) == 6
    assert all(r["n_val"] > 0 and math.isfinite(r["val"]["fid"]) for r in res["trials"])
    assert (tmp_path / "fig" / "trials.png").stat().st_size > 0
    for arm in ("gan", "gan_mm"):
        tuned = yaml.safe_load((tmp_path / "tuned" / f"{arm}.yaml").read_text())
        assert tuned["steps"] == res["arms"][arm]["best_steps"] >= 5
