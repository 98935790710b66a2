"""The params stage's handling of dvc.lock: the entries of stages dvc.yaml no longer has move to
a stash and come back with their stages, every line stays byte for byte, DVC's own templating
names the stages, and a file it cannot split exactly is left alone."""

from __future__ import annotations

import subprocess
import sys

import yaml

from genbench.pipeline.lockfile import current_stages, move_entries, prune

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


def entries(*names: str) -> str:
    return "".join(ENTRY.format(name=n) for n in names)


def lock_text(*names: str) -> str:
    return "schema: '2.0'\nstages:\n" + entries(*names)


def test_gone_stages_move_to_the_stash_and_come_back_byte_for_byte(tmp_path):
    lock, stash = tmp_path / "dvc.lock", tmp_path / "tmp" / "stash.yaml"
    lock.write_text(lock_text("params", "train@vae", "train@gan", "seed@gan-1", "report"))
    # a selection without gan: its entries wait in the stash
    assert move_entries(lock, stash, {"params", "train@vae", "report", "not@locked"}) == \
        (["seed@gan-1", "train@gan"], [])
    assert lock.read_text() == lock_text("params", "train@vae", "report")
    assert stash.read_text() == "stages:\n" + entries("seed@gan-1", "train@gan")
    assert move_entries(lock, stash, {"params", "train@vae", "report"}) == ([], [])
    # gan is back (its seed not): its entry returns, exactly as DVC had written it
    assert move_entries(lock, stash, {"params", "train@vae", "report", "train@gan"}) == \
        ([], ["train@gan"])
    assert lock.read_text() == lock_text("params", "train@vae", "report", "train@gan")
    assert stash.read_text() == "stages:\n" + entries("seed@gan-1")
    # a stage DVC wrote again while its old entry waited: the stash's copy is dropped
    lock.write_text(lock_text("params", "seed@gan-1"))
    assert move_entries(lock, stash, {"params", "seed@gan-1"}) == ([], [])
    move_entries(lock, stash, {"params"})
    assert stash.read_text() == "stages:\n" + entries("seed@gan-1")


def test_a_lock_it_cannot_split_exactly_is_left_alone(tmp_path):
    lock, stash = tmp_path / "dvc.lock", tmp_path / "stash.yaml"
    flow = "schema: '2.0'\nstages: {a: {cmd: x}, b: {cmd: y}}\n"  # no entry per line block
    lock.write_text(flow)
    assert move_entries(lock, stash, {"a"}) == ([], []) and lock.read_text() == flow
    assert not stash.exists()
    assert move_entries(tmp_path / "missing.lock", stash, {"a"}) == ([], [])
    # a damaged stash is started again; the lock still moves its entries
    lock.write_text(lock_text("a", "b"))
    stash.write_text("stages: [damaged\n")
    assert move_entries(lock, stash, {"a"}) == (["b"], [])
    assert stash.read_text() == "stages:\n" + entries("b")


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
    assert prune(lock, tmp_path / ".dvc/tmp/stash.yaml") == (["seed@c-1", "train@c"], [])
    assert lock.read_text() == lock_text("params", "train@a")


def test_a_dvc_yaml_it_cannot_read_leaves_the_lock_alone(tmp_path, caplog):
    lock = tmp_path / "dvc.lock"
    lock.write_text(lock_text("a", "b"))
    (tmp_path / "dvc.yaml").write_text("stages: [not, a, mapping]\n")  # and no DVC repo here
    assert prune(lock, tmp_path / "stash.yaml") == ([], [])
    assert lock.read_text() == lock_text("a", "b") and "not moved" in caplog.text
