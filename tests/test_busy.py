"""A second DVC run in a workspace that one is running in stops before it rewrites params.yaml
(src/genbench/busy.py; the whole-DAG test runs two `dvc exp run` at once): here the check on
DVC's own lock files, and the Hydra plugin through DVC's composition function."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from genbench.busy import RWLOCK, WORKSPACE_RUN, holders


@pytest.fixture
def sleeper():
    """A live process that is not this one or its parent (a running `dvc exp run` stands-in)."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield p
    p.kill()
    p.wait()


def _gone_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _write(root: Path, rel: Path, obj) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(json.dumps(obj))


def test_live_other_processes_hold_the_workspace_dead_or_own_ones_do_not(tmp_path, sleeper):
    assert holders(tmp_path) == {}  # no DVC files: idle
    _write(tmp_path, WORKSPACE_RUN, {"pid": _gone_pid(), "returncode": None})  # killed -9
    _write(tmp_path, RWLOCK, {"read": {"/x/data": [{"pid": subprocess.os.getpid(), "cmd": "me"}]},
                              "write": {}})
    assert holders(tmp_path) == {}
    _write(tmp_path, RWLOCK, {"write": {"/x/models/vae": {"pid": sleeper.pid, "cmd": "dvc"}}})
    found = holders(tmp_path)
    assert list(found) == [sleeper.pid] and "time.sleep(120)" in found[sleeper.pid]


def test_composing_in_a_busy_workspace_stops_with_one_line_and_writes_nothing(root, tmp_path,
                                                                           sleeper):
    """DVC's own composition (dvc/utils/hydra.py: compose_and_dump, the function `dvc exp run
    -S` calls) with the repository's plugins: refused while a process holds the workspace,
    params.yaml untouched; the same composition runs once it is idle."""
    for d in ("conf", "hydra_plugins"):
        shutil.copytree(root / d, tmp_path / d)
    (tmp_path / "params.yaml").write_text("before: 1\n")
    _write(tmp_path, WORKSPACE_RUN, {"pid": sleeper.pid})
    compose = ("from dvc.utils.hydra import compose_and_dump; compose_and_dump('params.yaml', "
               f"{str(tmp_path / 'conf')!r}, None, 'config', {str(tmp_path)!r}, "
               "['data=digits', 'model=[vae]'])")
    r = subprocess.run([sys.executable, "-c", compose], cwd=tmp_path, capture_output=True,
                       text=True, check=False)
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {tmp_path}: this workspace is busy (pid {sleeper.pid}")
    assert "params.yaml was not touched" in lines[0] and "--queue" in lines[0]
    assert (tmp_path / "params.yaml").read_text() == "before: 1\n"
    sleeper.kill()
    sleeper.wait()
    r = subprocess.run([sys.executable, "-c", compose], cwd=tmp_path, capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "vae:" in (tmp_path / "params.yaml").read_text()
