"""The params stage's pruning of dvc.lock: the entries of stages dvc.yaml no longer has go, every
kept line stays byte for byte, DVC's own templating names the stages, and a lock it cannot
split exactly is left alone."""

from __future__ import annotations

import subprocess
import sys

import yaml

from genbench.pipeline.lockfile import current_stages, drop_stale_entries

ENTRY = """  {name}:
    cmd: python run.py {name}
    deps:
    - path: data
      hash: md5
      md5: 4cd885767f9628ab8e60fa22962ff6f9.dir
      size: 10
      nfiles: 2
    outs:
    - path: out/{name}.json
      hash: md5
      md5: 7c2e6acca79731b71a103a5bbe4639d3
      size: 361
"""


def lock_text(*names: str) -> str:
    return "schema: '2.0'\nstages:\n" + "".join(ENTRY.format(name=n) for n in names)


def test_stale_entries_go_and_kept_lines_stay_byte_for_byte(tmp_path):
    lock = tmp_path / "dvc.lock"
    lock.write_text(lock_text("params", "train@vae", "train@gan", "seed@gan-1", "report"))
    dropped = drop_stale_entries(lock, {"params", "train@vae", "report", "not@locked"})
    assert dropped == ["seed@gan-1", "train@gan"]
    assert lock.read_text() == lock_text("params", "train@vae", "report")
    assert drop_stale_entries(lock, {"params", "train@vae", "report"}) == []  # nothing left


def test_a_lock_it_cannot_split_exactly_is_left_alone(tmp_path):
    lock = tmp_path / "dvc.lock"
    flow = "schema: '2.0'\nstages: {a: {cmd: x}, b: {cmd: y}}\n"  # no entry per line block
    lock.write_text(flow)
    assert drop_stale_entries(lock, {"a"}) == [] and lock.read_text() == flow
    assert drop_stale_entries(tmp_path / "missing.lock", {"a"}) == []


def test_the_stage_names_are_dvcs_own_templating(tmp_path):
    """foreach over a params dict and a matrix: the names DVC gives (train@a, seed@a-1)."""
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path,
                   check=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"models": {"a": {}, "b": {}}, "seeded": {"a": {}}, "seeds": [1, 2]}))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "params": {"cmd": "true"},
        "train": {"foreach": "${models}", "do": {"cmd": "echo ${key}"}},
        "seed": {"matrix": {"model": "${seeded}", "seed": "${seeds}"},
                 "cmd": "echo ${item.model} ${item.seed}"}}}))
    assert current_stages(tmp_path) == {"params", "train@a", "train@b", "seed@a-1", "seed@a-2"}
