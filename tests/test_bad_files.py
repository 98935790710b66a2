"""Bad files: every damaged, foreign or missing input is one line naming the file and the fix
(no traceback), a damaged resume checkpoint is set aside instead of failing every rerun, a full
disk says so and keeps the previous file, a killed MLflow run is ended on the next one, and
Ctrl-C says where a rerun starts."""

from __future__ import annotations

import errno
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import train_cmd

from genbench.core.errors import DataError


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _random(p: Path) -> None:
    p.write_bytes(random.Random(0).randbytes(p.stat().st_size))


def _flip(p: Path) -> None:  # one byte of the payload: same size, still a valid zip
    d = bytearray(p.read_bytes())
    d[len(d) - 5000] ^= 0xFF
    p.write_bytes(bytes(d))


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _floats(p: Path) -> None:  # 100 floats of the largest tensor changed: torch loads it fine
    rec = torch.load(p, weights_only=True)
    tensors = [t for t in _tensors(rec) if t.is_floating_point()]
    t = max(tensors, key=lambda t: t.numel())
    t.view(-1)[:100] += 1.0
    torch.save(rec, p)  # the record with its old digest, as a bit-flipping disk would leave it


def _tensors(x):
    if torch.is_tensor(x):
        yield x
    elif isinstance(x, dict):
        for v in x.values():
            yield from _tensors(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _tensors(v)


@pytest.fixture(scope="module")
def trained(root, digits_workdir):
    """The digits work folder with a trained (smoke) vae: model, losses, info, checkpoint."""
    r = subprocess.run(train_cmd(root, "vae"), cwd=digits_workdir, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return digits_workdir


@pytest.fixture(scope="module")
def judged(root, trained):
    """``trained`` with the evaluator (smoke: 2 epochs) and the vae's samples."""
    for script, *args in (
            ("evaluator.py", "--data", "data/processed", "--out", "evaluator/classifier.pt",
             "--metrics", "metrics/evaluator.json", "--checkpoint", "checkpoints/evaluator.pt",
             "--unpaired-out", "evaluator/unpaired.pt"),
            ("sample.py", "--model", "vae", "--weights", "models/vae/model.pt", "--out",
             "samples/vae/samples.pt", "--grid", "samples/vae/grid.png", "--info",
             "samples/vae/sample.json", "--data", "data/processed")):
        r = _stage(root, trained, script, *args)
        assert r.returncode == 0, r.stderr[-2000:]
    return trained


def _evaluate(root, work):
    return _stage(root, work, "evaluate.py", "--model", "vae", "--data", "data/processed",
                  "--evaluator", "evaluator/classifier.pt", "--unpaired-evaluator",
                  "evaluator/unpaired.pt", "--weights", "models/vae/model.pt", "--samples",
                  "samples/vae/samples.pt", "--grid", "samples/vae/grid.png", "--out",
                  "bad/m.json", "--analyses", "bad/a.json", "--figures", "bad/figures")


def _stage(root, work, script, *args):
    return subprocess.run([sys.executable, str(root / "stages" / script), "--params",
                           "params.yaml", *args], cwd=work, capture_output=True, text=True)


def _sample(root, work):
    return _stage(root, work, "sample.py", "--model", "vae", "--weights", "models/vae/model.pt",
                  "--out", "bad/samples.pt", "--grid", "bad/grid.png", "--info", "bad/s.json",
                  "--data", "data/processed")


CASES = [  # (file, damage, stage runner, words the line must hold)
    ("data/processed/train.pt", _truncate, "train", "sha256 differs"),
    ("data/processed/train.pt", _flip, "train", "sha256 differs"),
    ("data/processed/train.pt", _empty, "train", "sha256 differs"),
    ("data/processed/meta.json", _truncate, "train", "not valid JSON"),
    ("models/vae/model.pt", _truncate, "sample", "truncated or not a torch file"),
    ("models/vae/model.pt", _random, "sample", "unreadable"),
    ("models/vae/model.pt", _empty, "sample", "empty file"),
    # loadable, but not what was saved: the sha256 each record carries (core/io.py)
    ("models/vae/model.pt", _floats, "sample", "do not match the sha256 it was saved with"),
    ("evaluator/classifier.pt", _floats, "evaluate", "do not match the sha256 it was saved with"),
    ("evaluator/classifier.pt", _flip, "evaluate", "evaluator"),
]


@pytest.mark.parametrize("rel,damage,stage,words", CASES,
                         ids=[f"{c[0].split('/')[-1]}-{c[1].__name__[1:]}" for c in CASES])
def test_damaged_input_is_one_line_naming_the_file(root, request, rel, damage, stage, words):
    trained = request.getfixturevalue("judged" if stage == "evaluate" else "trained")
    f = trained / rel
    keep = f.read_bytes()
    try:
        damage(f)
        r = _sample(root, trained) if stage == "sample" else _evaluate(root, trained) \
            if stage == "evaluate" else \
            subprocess.run(train_cmd(root, "vae")[:-1] + ["bad/ck.pt"], cwd=trained,
                           capture_output=True, text=True)
    finally:
        f.write_bytes(keep)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-1500:]
    assert len(lines) == 1 and lines[0].startswith(f"error: {rel}:") and words in lines[0], lines
    assert "dvc repro" in lines[0]  # and the fix


def test_another_models_file_is_refused(root, trained, tmp_path):
    from genbench.core.io import torch_load, torch_save
    from genbench.models.checkpoint import load_model

    rec = torch_load(trained / "models/vae/model.pt")
    rec["name"] = "pca"
    torch_save(tmp_path / "model.pt", rec)  # a well-formed file of another model
    with pytest.raises(DataError, match=r"the model file of 'pca' \(kind vae\), not of 'vae'"):
        load_model(tmp_path / "model.pt", "vae")
    torch.save({"x": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not a genbench model file"):
        load_model(tmp_path / "other.pt", "vae")


def test_damaged_resume_checkpoint_is_set_aside(root, trained):
    ck = trained / "checkpoints/vae.pt"
    model = (trained / "models/vae/model.pt").read_bytes()
    _truncate(ck)
    r = subprocess.run(train_cmd(root, "vae"), cwd=trained, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-1500:]
    assert "moved it to checkpoints/vae.pt.corrupt, training starts from step 0" in r.stderr
    assert "dvc repro" not in r.stderr  # it is handled: no command for the user to run
    assert (trained / "checkpoints/vae.pt.corrupt").exists() and ck.exists()
    assert (trained / "models/vae/model.pt").read_bytes() == model  # the same run again


def test_full_disk_is_one_line_and_keeps_the_previous_file(tmp_path, monkeypatch):
    from genbench.core import io

    target = tmp_path / "x.pt"
    io.torch_save(target, {"a": torch.ones(3)})
    before = target.read_bytes()

    def full(obj, f):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(DataError, match=r"x\.pt: no space left on device .*previous"):
        io.torch_save(target, {"a": torch.zeros(3)})
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]  # no temp file left behind


def test_killed_mlflow_run_is_marked_killed_by_the_next(tmp_path, monkeypatch):
    import mlflow

    from genbench import tracking
    from genbench.core.config import MlflowConfig

    uri = f"sqlite:///{tmp_path}/k.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    cfg = MlflowConfig(experiment="kill")
    client = mlflow.MlflowClient(uri)
    with tracking.run(cfg, model="vae", kind="vae") as first:
        pass
    # a run left RUNNING, as by a process killed with -9
    exp = client.get_experiment_by_name("kill").experiment_id
    dead = client.create_run(exp, tags={"genbench.model": "vae", "dvc.exp_name": "workspace"})
    other = client.create_run(exp, tags={"genbench.model": "gan", "dvc.exp_name": "workspace"})
    with tracking.run(cfg, model="vae", kind="vae"):
        pass
    assert client.get_run(dead.info.run_id).info.status == "KILLED"
    assert client.get_run(other.info.run_id).info.status == "RUNNING"  # another model's
    assert client.get_run(first.run_id).info.status == "FINISHED"


def test_interrupt_says_where_a_rerun_starts(digits_workdir, tmp_path, monkeypatch):
    from genbench.core import engine
    from genbench.core.config import TrainView
    from genbench.core.errors import Interrupted
    from genbench.params import load_view
    from genbench.pipeline import train as PT

    view = load_view(digits_workdir / "params.yaml", TrainView, "vae")
    calls = {"n": 0}
    fit = engine.fit

    def interrupting_losses(model):
        orig = model.losses

        def losses(batch, group):
            calls["n"] += 1
            if calls["n"] == 20:
                raise KeyboardInterrupt
            return orig(batch, group)
        return losses

    def fit_then_interrupt(model, *a, **k):
        model.losses = interrupting_losses(model)
        return fit(model, *a, **k)

    monkeypatch.setattr(engine, "fit", fit_then_interrupt)
    with pytest.raises(Interrupted, match=r"vae: interrupted at step 19; no checkpoint yet "
                                          r"\(one every 500 steps\): a rerun starts from step 0"):
        PT.train(view, "vae", digits_workdir / "data/processed", tmp_path / "m.pt",
                 tmp_path / "l.csv", tmp_path / "i.json", tmp_path / "ck.pt")
    shutil.rmtree(tmp_path, ignore_errors=True)
