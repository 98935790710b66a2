"""Shared fixtures and helpers: the repository's params, tiny synthetic splits, every model config
(shipped, or with its cost knobs shrunk), a model built from one, the numbers in a result."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from genbench.core.config import EngineConfig, read_model_conf
from genbench.core.data import Split
from genbench.models.base import GenerativeModel
from genbench.models.registry import model_class
from genbench.params import load_params

ROOT = Path(__file__).resolve().parents[1]
# `make test` runs two pytest-xdist workers, a whole file each at a time (--dist loadfile
# --no-loadscope-reorder: module fixtures are built once) in collection order: the two longest
# files first, one per worker, so that the whole-DAG file (the longest by far) is not started
# late and every other file runs on the second worker beside it
FIRST = ("test_pipeline.py", "test_every_config.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        name = item.path.name
        return FIRST.index(name) if name in FIRST else len(FIRST)

    items.sort(key=rank)  # stable: the other files keep pytest's order


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def params():
    return load_params(ROOT / "params.yaml")


def default_model_section(kind: str) -> dict:
    """The conf/model/<kind>.yaml defaults of a registered kind (every kind has one)."""
    for f in sorted((ROOT / "conf" / "model").glob("*.yaml")):
        section = read_model_conf(f)
        if section.get("kind") == kind:
            return section
    raise AssertionError(f"no conf/model/*.yaml has kind: {kind}")


def tiny_split(n: int = 64, shape=(1, 8, 8), classes: int = 10, seed: int = 0) -> Split:
    """Random uint8 images with structure (class-dependent mean) so models have something to fit."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    base = torch.rand(classes, *shape, generator=g)
    x = (base[y] * 200 + torch.rand(n, *shape, generator=g) * 55).to(torch.uint8)
    return Split(x, y)


#: every model config shipped in conf/model (variants of one kind included)
VARIANTS = sorted(f.stem for f in (ROOT / "conf" / "model").glob("*.yaml"))


#: cost knobs shrunk for the contract tests wherever a section has them (the contract does not
#: depend on how long an AIS run or a Gibbs chain is; the whole-DAG test runs them as configured)
CHEAP = {"ais_betas": 20, "ais_runs": 4, "sample_steps": 3, "burn_in": 3, "iwae_k": 8}


def variant_section(name: str) -> dict:
    return read_model_conf(ROOT / "conf" / "model" / f"{name}.yaml")


def cheap_section(name: str) -> dict:
    section = variant_section(name)
    return {**section, **{k: v for k, v in CHEAP.items() if k in section}}


def build(kind: str, shape, section: dict | None = None, **override) -> GenerativeModel:
    cls = model_class(kind)
    section = {**(section or default_model_section(kind)), **override}
    if cls.translates:  # the pipeline fills the domains from the data
        section["domain"] = {"sr_factor": 4, "block": shape[1] // 2}
    model = cls(cls.Config.model_validate(section), shape, 10)
    if model.unpaired:  # ... and gives it the other domain's train split
        model.attach_unpaired(tiny_split(32, shape, seed=5).x)
    return model


def all_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from all_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from all_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


@pytest.fixture
def engine_cfg() -> EngineConfig:
    return EngineConfig(device="cpu", checkpoint_every=5, log_every=2, progress=False)


def train_cmd(root: Path, model: str, params: str = "params.yaml") -> list[str]:
    """The train stage's command line, as dvc.yaml spells it."""
    import sys

    return [sys.executable, str(root / "stages" / "train.py"), "--params", params, "--model", model,
            "--data", "data/processed", "--out", f"models/{model}/model.pt", "--losses",
            f"models/{model}/losses.csv", "--info", f"models/{model}/train.json", "--checkpoint",
            f"checkpoints/{model}.pt"]


@pytest.fixture(scope="session")
def digits_workdir(tmp_path_factory):
    """A tiny repo-like folder: params (digits, smoke, vae only) and processed digits."""
    from genbench.core import data as D
    from genbench.core.config import DataConfig, compose_params

    w = tmp_path_factory.mktemp("work")
    raw = compose_params(["data=digits", "budget=smoke", "model=[vae]"], conf_dir=ROOT / "conf")
    raw["train"]["progress"] = False
    (w / "params.yaml").write_text(yaml.safe_dump(raw))
    (w / "dvc.yaml").write_text("stages: {}\n")  # marks the repo root for the default URI
    cfg = DataConfig(**raw["data"])
    D.download(cfg, w / "data/raw")
    D.preprocess(cfg, w / "data/raw", w / "data/processed", seed=0)
    return w
