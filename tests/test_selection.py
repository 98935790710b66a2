"""A one-model experiment runs only what it needs (issue 30): the studies beyond the model
chains run when params.yaml's ``studies`` lists them (conf/toolbox: all | none); an unselected
one writes a stub in well under a second, which the report and the claims read as "not run";
and every stage but ``params`` keeps DVC's run cache (no persist output), so an experiment
switched back restores its outputs instead of retraining."""

from __future__ import annotations

import json
import resource
import shlex
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

from genbench.core import config as C

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _study_views() -> dict[str, type]:
    return {cls.study: cls for cls in C.VIEWS.values() if issubclass(cls, C.StudyView)}


def test_the_studies_are_the_stages_with_a_study_view():
    """STUDIES (what `studies` may list) = the stages whose view is a StudyView, each a stage."""
    assert set(_study_views()) == set(C.STUDIES)
    assert set(C.STUDIES) <= set(DVC)
    all_ = C.compose_params(conf_dir=ROOT / "conf")
    assert all_["studies"] == list(C.STUDIES) and all_["seeds"] and all_["more_seeds"]


def test_toolbox_none_selects_no_study_and_no_extra_seed():
    p = C.compose_params(["toolbox=none", "model=[vae]"], conf_dir=ROOT / "conf")
    assert (p["studies"], p["seeds"], p["more_seeds"]) == ([], [], [])
    assert list(p["models"]) == ["vae"]


def test_an_unknown_study_is_one_line():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    with pytest.raises(C.ConfigError, match=r"^studies\.0 = 'tosy': Input should be 'toys'"):
        C.validate(C.Params, {**raw, "studies": ["tosy"]})


def test_an_unselected_study_view_is_a_stub_and_a_selected_one_is_whole(tmp_path):
    """The params stage writes ``{"selected": false}`` alone for an unselected study: neither
    its settings nor its code rerun it while it is off; a selected view carries both."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = C.Params.model_validate({**raw, "studies": ["toys"]})
    C.write_views(params, tmp_path / "views")
    for study in C.STUDIES:
        view = json.loads((tmp_path / "views" / f"{study}.json").read_text())
        if study == "toys":
            assert view["selected"] is True and "toys" in view
        else:
            assert view == {"selected": False}, study


def _args_of(stage: str) -> list[str]:
    """The stage's command line in dvc.yaml, its output paths kept relative."""
    return shlex.split(DVC[stage]["cmd"])[1:]


@pytest.mark.parametrize("study", C.STUDIES)
def test_an_unselected_study_writes_its_stub_fast(study, tmp_path):
    """Each study stage, run as dvc.yaml runs it on a stub view: its metrics file says
    ``selected: false`` with the reason, each output folder holds the note, in < 2 CPU-seconds
    (no torch, no data: the inputs it names need not exist; CPU time, not wall time: `make
    test` runs another test file beside this one)."""
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / f"{study}.json").write_text('{"selected": false}')
    args = _args_of(study)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([sys.executable, str(ROOT / args[0]), *args[1:]], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert r.returncode == 0, r.stderr
    assert seconds < 2.0, f"{study}: {seconds:.2f} CPU-s"
    for out in DVC[study]["outs"]:
        path = tmp_path / (out if isinstance(out, str) else next(iter(out)))
        if path.suffix == ".json":
            stub = json.loads(path.read_text())
            assert stub["selected"] is False and f"does not list {study}" in stub["reason"]
        else:
            assert "does not list" in (path / "NOT_RUN.txt").read_text()


def test_the_report_prints_an_unselected_study_as_not_run(tmp_path):
    from genbench.doc import Heading, Para
    from genbench.report import StageInput, _stage_sections, _stage_summaries

    stub = tmp_path / "toys.json"
    stub.write_text(json.dumps({"selected": False, "study": "toys", "reason": "not run: x"}))
    blocks = _stage_sections([StageInput("toys", stub)], tmp_path)
    assert blocks == [Heading(2, "2-D GAN experiments"), Para("not run: x")]
    assert _stage_summaries([StageInput("toys", stub)]) == {}


def test_a_claim_on_an_unselected_study_is_not_run(tmp_path):
    from genbench.claims import Claim, collect, judge

    toys = tmp_path / "toys.json"
    toys.write_text(json.dumps({"selected": False, "study": "toys", "reason": "r"}))
    per_seed = {0: collect(tmp_path, tmp_path, toys, [], tmp_path / "gan_studies.json")}
    assert "toys" not in per_seed[0]
    c = Claim(id="c", statement="s", source="0", check="toys:mixtures.ring.gan.modes_captured < 8")
    r = judge(c, per_seed, set(), 3, unselected={"toys"})
    assert (r["verdict"], r["reason"]) == ("not run", "not selected: toys (studies)")
    s = Claim(id="s", statement="s", source="0", check="biggan:study.truncation.fid_min < 100")
    r = judge(s, {0: {"biggan": {}}}, {"biggan"}, 3, unselected={"gan_studies"})
    assert r["reason"] == "not selected: gan_studies (studies)"


def test_no_stage_but_params_has_a_persist_output():
    """DVC skips its run cache for a stage with a persist output (dvc/stage/cache.py,
    ``_can_hash``): the checkpoints are the engine's files, not outputs, so a model's training
    and sampling switched back to a config they ran before are restored, not rerun. The claims
    stage's uncached verdicts persist (a failed run keeps them): its uncached output already
    keeps it out of the run cache."""
    persist = []
    for name, stage in DVC.items():
        body = stage.get("do", stage)
        for out in body.get("outs", []):
            if isinstance(out, dict) and any((v or {}).get("persist") for v in out.values()):
                persist.append(f"{name}: {next(iter(out))}")
                assert name == "params" or (next(iter(out.values())) or {}).get("cache") is \
                    False, f"{name}: a cached persist output would lose the run cache"
    assert persist == ["params: params", "claims: reports/claims.json"]
    # ... nor for one with an uncached output that is not a metric or plot
    # (dvc/stage/__init__.py: ``run_cache=not no_cache_outs``): train and sample cache all
    for name in ("train", "sample"):
        uncached = [o for o in DVC[name]["do"]["outs"]
                    if isinstance(o, dict) and (next(iter(o.values())) or {}).get("cache") is False]
        assert not uncached, f"{name}: {uncached}"
    ignored = subprocess.run(["git", "check-ignore", "-q", "checkpoints/vae.pt"], cwd=ROOT)
    assert ignored.returncode == 0, "checkpoints/ must be git-ignored (not a DVC output)"
