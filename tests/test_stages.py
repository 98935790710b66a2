"""Stages declare themselves: a stage beyond the model chains is one folder
(``src/genbench/pipeline/<stage>/``: ``run`` computes, ``report`` is its report section), its
script in ``stages/`` and its entry in dvc.yaml; the report includes the sections dvc.yaml
passes it, and ``make repro`` schedules from DVC's graph. Nothing else lists the stages."""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys

import yaml
from conftest import ROOT

from genbench.core.code import Sources

SRC = ROOT / "src"


def _report_sections() -> list[list[str]]:
    """The ``--section STAGE METRICS [FIGURES]`` arguments of dvc.yaml's report command."""
    cmd = shlex.split(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["report"]["cmd"])
    out, i = [], 0
    while i < len(cmd):
        if cmd[i] == "--section":
            j = i + 1
            while j < len(cmd) and not cmd[j].startswith("--"):
                j += 1
            out.append(cmd[i + 1:j])
            i = j
        else:
            i += 1
    return out


#: report sections whose outputs no DVC stage makes: `make tune`'s study (not in `make repro`)
OUTSIDE_DAG = {"tune"}


def test_every_stage_section_is_in_the_report_and_only_those():
    """Each ``pipeline/<stage>/report.py`` is passed to the report by dvc.yaml with the outputs
    of that stage, which the report depends on; and dvc.yaml passes no other section."""
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    declared = sorted(f.parent.name for f in (SRC / "genbench/pipeline").glob("*/report.py"))
    passed = _report_sections()
    assert sorted(s[0] for s in passed) == declared
    deps = {str(d) for d in dvc["report"]["deps"]}
    for stage, metrics, *figures in passed:
        assert len(figures) <= 1, f"--section {stage}: STAGE METRICS [FIGURES]"
        assert metrics in deps, f"report: {metrics} missing from its deps"
        if stage in OUTSIDE_DAG:  # made by a make target, committed with git: no stage's outs
            assert stage not in dvc and (ROOT / metrics).exists(), stage
            assert set(figures) <= deps, f"report: {figures} missing from its deps"
            continue
        outs = {next(iter(o)) if isinstance(o, dict) else o for o in dvc[stage]["outs"]}
        assert metrics in outs and set(figures) <= outs, f"--section {stage}: not its outputs"
        module = importlib.import_module(f"genbench.pipeline.{stage}.report")
        assert callable(module.section), stage


def test_the_report_code_covers_every_section_and_a_stage_only_its_own():
    """The report imports the sections by name (``IMPORTS_BY_NAME``): their files are in its
    code dependency; a stage's code is its own folder's run module, not the report's."""
    sources = Sources(SRC / "genbench", ROOT / "stages", ROOT)
    report = {str(f) for f in sources.files("report")}
    for f in (SRC / "genbench/pipeline").glob("*/report.py"):
        assert str(f) in report, f"{f} not in the report's code"
    cluster = {str(f.relative_to(ROOT)) for f in sources.files("cluster")}
    assert "src/genbench/pipeline/cluster/run.py" in cluster
    assert not any(f.endswith("/report.py") or "/toys/" in f for f in cluster)


INK_RUN = '''"""Stage ``ink``: the selected models counted (a toy stage: what adding one takes)."""
from genbench.core.io import write_json


def ink(params, out):
    write_json(out, {"models": len(params.models)})
'''
INK_REPORT = '''"""Stage ``ink``'s report section."""
from genbench.doc import Heading, Para


def section(m: dict, fig_rel: str) -> list:
    return [Heading(2, "Ink"), Para(f"{m['models']} models")]


def summary(m: dict) -> dict:
    return {"models": m["models"]}
'''
INK_SCRIPT = '''"""Stage ink: the selected models counted."""
from genbench.cli import stage_main


def add(p):
    p.add_argument("--out", required=True)


def run(a, params):
    from genbench.pipeline.ink.run import ink

    ink(params, a.out)


if __name__ == "__main__":
    stage_main(__doc__, add, run, "ReportView")
'''


def test_a_stage_is_one_folder_its_script_and_dvc_yaml(tmp_path):
    """Adding a stage with a report section, in a copy of the repository: the folder
    ``pipeline/ink/`` (run, report), ``stages/ink.py`` and two edits of dvc.yaml (the stage;
    the report's ``--section`` and dependency). Then DVC's graph has it, ``make repro``'s plan
    runs it before the report, the stage runs, and the report shows its section and puts its
    summary in the DVC metric."""
    for d in ("src", "stages", "conf"):
        shutil.copytree(ROOT / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / f, tmp_path / f)
    folder = tmp_path / "src/genbench/pipeline/ink"  # 1. the stage's folder
    folder.mkdir()
    (folder / "__init__.py").write_text('"""Stage ``ink``."""\n')
    (folder / "run.py").write_text(INK_RUN)
    (folder / "report.py").write_text(INK_REPORT)
    (tmp_path / "stages/ink.py").write_text(INK_SCRIPT)  # 2. its script
    dvc = (tmp_path / "dvc.yaml").read_text()  # 3. dvc.yaml: the stage, the report's input
    dvc = dvc.replace("\n  report:\n", """
  ink:
    cmd: python stages/ink.py --params params/report.json --out metrics/ink.json
    deps: [params/report.json, stages/ink.py, src/genbench/pipeline/ink]
    outs: [metrics/ink.json]

  report:
""", 1)
    dvc = dvc.replace("--section text metrics/text.json",
                      "--section text metrics/text.json\n      --section ink metrics/ink.json", 1)
    dvc = dvc.replace("      - metrics/text.json\n", "      - metrics/text.json\n"
                      "      - metrics/ink.json\n", 1)
    (tmp_path / "dvc.yaml").write_text(dvc)

    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}

    def sh(*cmd):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
        return r.stdout

    sh(sys.executable, "-m", "dvc", "init", "--no-scm", "-q")
    sh(sys.executable, "stages/ink.py", "--params", "params.yaml", "--out", "metrics/ink.json")
    code = f"""
import json
from pathlib import Path
import genbench
assert genbench.__file__.startswith({str(tmp_path)!r}), genbench.__file__
from genbench import repro as R
from genbench.core.code import Sources
from genbench.doc import to_markdown, Doc
from genbench.report import StageInput, _stage_sections, _stage_summaries
tasks = {{t.target: t for t in R.plan(R.stage_graph())}}
ink = [StageInput("ink", Path("metrics/ink.json"))]
print(json.dumps({{
    "task": tasks["ink"].stages, "report_after": "ink" in tasks["report"].after,
    "page": to_markdown(Doc("r").add(*_stage_sections(ink, Path("reports")))),
    "summary": _stage_summaries(ink),
    "report_code": "src/genbench/pipeline/ink/report.py" in
                   [str(f) for f in Sources("src/genbench", "stages").files("report")]}}))
"""
    out = json.loads(sh(sys.executable, "-c", code).splitlines()[-1])
    assert out["task"] == ["ink"] and out["report_after"]
    n = len(yaml.safe_load((tmp_path / "params.yaml").read_text())["models"])
    assert "## Ink" in out["page"] and f"{n} models" in out["page"]
    assert out["summary"] == {"ink": {"models": n}}
    assert out["report_code"]


def test_a_section_no_stage_declares_is_one_line():
    import pytest

    from genbench.core.errors import ConfigError
    from genbench.report import stage_section

    with pytest.raises(ConfigError, match=r"--section nosuch: no such stage section "
                                          r"\(src/genbench/pipeline/nosuch/report.py\)"):
        stage_section("nosuch")
