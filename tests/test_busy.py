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


# ---- conf/ and the -S overrides, checked before DVC composes (src/genbench/conf_check.py)


def test_set_params_reads_dvcs_option_forms():
    from genbench.conf_check import set_params

    argv = ["/x/dvc", "exp", "run", "-S", "budget=smoke", "-Smodel=[vae]", "--set-param",
            "data=digits", "--set-param=seed=3", "-S", "other.yaml:a=1", "--queue"]
    assert set_params(argv) == ["budget=smoke", "model=[vae]", "data=digits", "seed=3"]


@pytest.mark.parametrize("override,line", [
    ("budget=huge", "-S budget=huge: conf/budget/huge.yaml does not exist; budget is one of: "
                    "default, paper, smoke"),
    ("data=cifar100", "-S data=cifar100: conf/data/cifar100.yaml does not exist; data is one "
                      "of: cifar10, digits, fashion_mnist, mnist, mnist5k; did you mean cifar10?"),
    ("model=[vae,vea]", "-S model=[vae,vea]: conf/model/vea.yaml does not exist; model is one "
                        "of: 48 files in conf/model/; did you mean vae?"),
    ("model=[vae,vae]", "-S model=[vae,vae]: vae listed twice"),
    ("models.vea.latent_dim=8", "-S models.vea.latent_dim=8: vea is not a model "
                                "(conf/model/vea.yaml does not exist); did you mean vae?"),
    ("models.vae.latnet_dim=8", "-S models.vae.latnet_dim=8: conf/model/vae.yaml sets no "
                                "latnet_dim (did you mean latent_dim? it sets "),
])
def test_a_group_choice_or_model_with_no_file_is_one_line(root, override, line):
    """Inside DVC these were "ERROR: unexpected error - In 'config': Could not find …" with
    Hydra's search path and DVC's support banner (10-12 lines)."""
    from genbench.conf_check import check_group_choices
    from genbench.core.errors import ConfigError

    n_models = len(list((root / "conf" / "model").glob("*.yaml")))
    with pytest.raises(ConfigError) as err:
        check_group_choices(root / "conf", [override])
    assert str(err.value).startswith(line.replace("48 files", f"{n_models} files")), err.value
    check_group_choices(root / "conf", ["budget=smoke", "model=[vae,gan]", "data.val_fraction=0.2",
                                        "models.vae.latent_dim=8", "+models.vae.x=1",
                                        "models.lsgan.lr_gen=0.001", "models.vae.hidden=[64]"])


def test_every_models_composed_keys_are_the_keys_its_files_set(root):
    """model_keys (read from conf/model and the files its defaults merge) against Hydra's
    composition of every model: the same keys, so no valid override is refused."""
    from genbench.conf_check import model_keys
    from genbench.core.config import compose_params

    names = sorted(p.stem for p in (root / "conf" / "model").glob("*.yaml"))
    composed = compose_params([f"model=[{','.join(names)}]"], conf_dir=root / "conf")
    assert sorted(composed["models"]) == names
    for name, section in composed["models"].items():
        assert model_keys(root / "conf", name) == set(section), name


def test_a_conf_file_that_is_not_yaml_is_named_before_composing(root, tmp_path):
    for d in ("conf", "hydra_plugins"):
        shutil.copytree(root / d, tmp_path / d)
    vae = tmp_path / "conf" / "model" / "vae.yaml"
    vae.write_text(vae.read_text().replace("latent_dim:", "latent_dim: [", 1))
    compose = ("from dvc.utils.hydra import compose_and_dump; compose_and_dump('params.yaml', "
               f"{str(tmp_path / 'conf')!r}, None, 'config', {str(tmp_path)!r}, [])")
    r = subprocess.run([sys.executable, "-c", compose], cwd=tmp_path, capture_output=True,
                       text=True, check=False)
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1, r.stderr
    assert lines[0].startswith("error: conf/model/vae.yaml: not valid YAML (line "), lines
    assert not (tmp_path / "params.yaml").exists()
