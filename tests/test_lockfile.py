"""The params stage's pruning of dvc.lock: the entries of stages dvc.yaml no longer has whose
files are gone are dropped, those whose files are there stay (DVC can still skip them), every
kept line stays byte for byte, DVC's own templating names the stages, and a file it cannot split
exactly is left alone."""

from __future__ import annotations

import subprocess
import sys

import yaml

from genbench.pipeline.lockfile import current_stages, drop_entries, prune

ENTRY = """  {name}:
    cmd: python run.py {name}
    deps:
    - path: data
      hash: md5
      md5: 4cd885767f9628ab8e60fa22962ff6f9.dir
      size: 10
      nfiles: 2
    - path: params/{name}.json
      hash: md5
      md5: bf8cd5bc6d7d13a38d5538e866c7bad3
      size: 2380
    outs:
    - path: out/{name}.json
      hash: md5
      md5: 7c2e6acca79731b71a103a5bbe4639d3
      size: 361
"""


def entries(*names: str) -> str:
    return "".join(ENTRY.format(name=n) for n in names)


def lock_text(*names: str) -> str:
    return "schema: '2.0'\nstages:\n" + entries(*names)


def files(root, *names):
    for n in names:
        (root / "out").mkdir(exist_ok=True)
        (root / "out" / f"{n}.json").write_text("{}")


def test_gone_stages_without_their_files_are_dropped_byte_for_byte(tmp_path):
    """Every entry depends on `data` and on its view params/<name>.json, none of which exists:
    a view does not count (the params stage writes it again when its model returns)."""
    lock = tmp_path / "dvc.lock"
    (tmp_path / "data").mkdir()
    files(tmp_path, "params", "train@vae", "train@pca", "report")  # not train@gan's, seed@gan-1's
    lock.write_text(lock_text("params", "train@vae", "train@gan", "train@pca", "seed@gan-1",
                              "report"))
    keep = {"params", "train@vae", "report", "not@locked"}
    # train@pca is gone from dvc.yaml but its files are there: DVC may still skip it
    assert drop_entries(lock, keep) == ["seed@gan-1", "train@gan"]
    assert lock.read_text() == lock_text("params", "train@vae", "train@pca", "report")
    assert drop_entries(lock, keep) == []
    (tmp_path / "data").rmdir()  # a dependency gone: then every gone stage's entry goes
    assert drop_entries(lock, keep) == ["train@pca"]
    assert lock.read_text() == lock_text("params", "train@vae", "report")


def test_a_lock_it_cannot_split_exactly_is_left_alone(tmp_path):
    lock = tmp_path / "dvc.lock"
    flow = "schema: '2.0'\nstages: {a: {cmd: x}, b: {cmd: y}}\n"  # no entry per line block
    lock.write_text(flow)
    assert drop_entries(lock, {"a"}) == [] and lock.read_text() == flow
    lock.write_text("schema: '2.0'\nstages: [damaged\n")
    assert drop_entries(lock, {"a"}) == []
    assert drop_entries(tmp_path / "missing.lock", {"a"}) == []


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
    lock = tmp_path / "dvc.lock"
    lock.write_text(lock_text("params", "train@a", "train@c", "seed@c-1"))
    assert prune(lock) == ["seed@c-1", "train@c"]  # no files: a fresh clone's model stages
    assert lock.read_text() == lock_text("params", "train@a")


def test_a_dvc_yaml_it_cannot_read_leaves_the_lock_alone(tmp_path, caplog):
    lock = tmp_path / "dvc.lock"
    lock.write_text(lock_text("a", "b"))
    (tmp_path / "dvc.yaml").write_text("stages: [not, a, mapping]\n")  # and no DVC repo here
    assert prune(lock) == []
    assert lock.read_text() == lock_text("a", "b") and "not pruned" in caplog.text
