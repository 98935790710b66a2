"""`make repro`'s scheduler (genbench.repro): tasks from DVC's graph, their order, failures."""

import sys
from pathlib import Path

import pytest
import yaml

from genbench import repro as R

ROOT = Path(__file__).resolve().parents[1]

DOT = """strict digraph {
"params";
"train@a";
"lonely";
"params" -> "train@a";
"params" -> "train@b";
"train@a" -> "sample@a";
"sample@a" -> "evaluate@a";
"train@a" -> "evaluate@a";
"train@b" -> "evaluate@b";
"params" -> "seed@a-1";
"train@a" -> "cluster";
"train@b" -> "cluster";
"evaluate@a" -> "report";
"evaluate@b" -> "report";
"cluster" -> "report";
}
"""


def test_dot_edges_become_dependencies():
    g = R.parse_dot(DOT)
    assert g["evaluate@a"] == {"train@a", "sample@a"}
    assert g["params"] == set() and g["lonely"] == set()  # a stage with no edge is kept
    assert g["report"] == {"evaluate@a", "evaluate@b", "cluster"}


def test_one_task_per_foreach_item_in_dvc_order_and_longest_path_first():
    tasks = {t.target: t for t in R.plan(R.parse_dot(DOT), {"train@b": 500.0})}
    assert set(tasks) == {"params", "a", "b", "a-1", "cluster", "report", "lonely"}
    assert tasks["a"].stages == ["train@a", "sample@a", "evaluate@a"]
    assert tasks["b"].stages == ["train@b", "evaluate@b"]
    assert tasks["cluster"].after == {"a", "b"} and tasks["report"].after == {"a", "b", "cluster"}
    assert tasks["a"].cost == 3 * R.UNKNOWN_SECONDS  # nothing recorded: 60 s a stage
    # b: its 560 s, then cluster and report (60 s each) after it
    assert tasks["b"].priority == 500 + R.UNKNOWN_SECONDS + 2 * R.UNKNOWN_SECONDS
    assert tasks["b"].priority > tasks["a"].priority > tasks["a-1"].priority


def test_a_foreach_item_split_by_another_stage_is_refused():
    graph = R.parse_dot('"x@i" -> "mid";\n"mid" -> "y@i";\n')
    with pytest.raises(SystemExit, match="foreach item 'i'"):
        R.plan(graph)


def test_recorded_seconds_count_a_total_once():
    assert R.json_seconds({"seconds": 74.0, "train_seconds": 42.0,
                           "analyses": {"seconds": {"a": 1.0}}}) == 74.0  # the total wins
    assert R.json_seconds({"train_seconds": 42.0, "steps": 3000, "kind": "vae"}) == 42.0
    assert R.json_seconds({"eval_seconds": 2.0, "seconds": {"a": 1.0, "b": 0.5}}) == 3.5
    assert R.json_seconds({"mixtures": {"ring": {"gan": {"seconds": 5.0}},
                                        "grid": [{"seconds": 7.0}]}}) == 12.0
    assert R.json_seconds({"seconds": True, "done": 1}) == 0.0  # not a number of seconds


class _Script(R.Task):
    def command(self):
        return [sys.executable, "-c", f"raise SystemExit({self.stages[0]})"]


def test_a_failed_task_skips_only_what_comes_after_it(tmp_path, monkeypatch):
    monkeypatch.setattr(R, "LOGS", tmp_path)
    tasks = [_Script("bad", ["3"]), _Script("good", ["0"]),
             _Script("after_bad", ["0"], after={"bad"}),
             _Script("after_that", ["0"], after={"after_bad"}),
             _Script("after_good", ["0"], after={"good"})]
    done = R.run_tasks(tasks, jobs=2)
    assert done == {"bad": 3, "good": 0, "after_bad": -1, "after_that": -1, "after_good": 0}


def test_the_repository_dag_plans_every_stage_once(monkeypatch):
    """On this repository's dvc.yaml: each model's train/sample/evaluate is one task in that
    order, the analyses across models wait for every model, the report comes last."""
    monkeypatch.chdir(ROOT)
    graph = R.stage_graph()
    tasks = R.plan(graph)
    stages = [s for t in tasks for s in t.stages]
    assert sorted(stages) == sorted(graph)
    by = {t.target: t for t in tasks}
    models = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    for m in models:
        assert by[m].stages == [f"train@{m}", f"sample@{m}", f"evaluate@{m}"]
    assert set(models) <= by["cluster"].after
    assert set(models) <= by["report"].after and by["report"].priority == by["report"].cost
