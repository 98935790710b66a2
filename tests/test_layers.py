"""The package's layers: ``core`` (settings schema, data, io, the engine) ← ``nn`` (layers) ←
``models`` (the registry and one file per model) ← everything else (pipeline, analysis,
report, the settings boundary ``genbench.params``). A module imports only its own layer and the
ones below; no two modules import each other, directly or around a circle. Imports inside
functions count: a lazy import is still a dependency, only a later one."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

from conftest import ROOT

SRC = ROOT / "src"
#: each layer -> the top-level genbench packages it may import (besides itself)
BELOW = {"core": set(), "nn": {"core"}, "models": {"core", "nn"}}


def _modules() -> dict[str, object]:
    mods = {}
    for f in sorted((SRC / "genbench").rglob("*.py")):
        parts = f.relative_to(SRC).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return mods


def _imports(path, name: str, mods) -> set[str]:
    """The genbench modules ``path`` (module ``name``) imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                       for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("genbench"):
                found.add(t)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(path, name, mods) for name, path in mods.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(root):
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_around_a_circle():
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_each_layer_imports_only_the_layers_below():
    wrong = []
    for name, targets in import_graph().items():
        layer = name.split(".")[1] if "." in name else None
        if layer not in BELOW:
            continue
        for t in sorted(targets):
            top = t.split(".")[1] if "." in t else t
            if top != layer and top not in BELOW[layer]:
                wrong.append(f"{name} -> {t}")
    assert not wrong, "imports against the layers (core ← nn ← models ← the rest): " + \
        ", ".join(wrong)


def test_the_core_runs_without_the_model_zoo():
    """Dynamic imports too: loading the core's modules does not load genbench.models."""
    code = ("import sys, genbench.core.config, genbench.core.engine, genbench.core.data, "
            "genbench.core.code, genbench.core.distributed, genbench.core.precision; "
            "print(sorted(m for m in sys.modules if m.startswith('genbench.models')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]", r.stdout


def test_the_registry_is_complete_from_any_entry():
    """Importing the registry alone registers a class from every model file in models/ (the
    package finds its files on disk: adding a model is adding its file, no list to edit)."""
    code = ("import json, pkgutil, genbench.models.registry as r, genbench.models as m; "
            "print(json.dumps([sorted({c.__module__.rpartition('.')[2] "
            "for c in r.registered().values()}), "
            "sorted(i.name for i in pkgutil.iter_modules(m.__path__))]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    with_model, files = json.loads(r.stdout)
    assert len(with_model) >= 20 and set(with_model) <= set(files)
    # the files that register nothing: the contract, the registry, shared helpers
    assert set(files) - set(with_model) == {"base", "registry", "checkpoint", "translation",
                                            "autoregressive", "two_player"}


TOY_MODEL = '''"""A toy model written by the test: the mean image, sampled with pixel noise."""
from typing import Literal

import torch
from pydantic import Field

from genbench.models.base import GenerativeModel, ModelConfig
from genbench.models.registry import register


@register("toy_mean")
class ToyMean(GenerativeModel):
    family = "Linear models and mixtures"

    class Config(ModelConfig):
        kind: Literal["toy_mean"] = "toy_mean"
        noise: float = Field(ge=0)

    def __init__(self, cfg, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.register_buffer("mean", torch.zeros(*shape))

    def fit(self, x, y):
        self.mean.copy_(x.mean(0))
        return {"loss": 0.0}

    def _sample(self, n, generator, labels=None):
        eps = torch.randn(n, *self.shape, generator=generator)
        return (self.mean + self.cfg.noise * eps).clamp(0, 1)
'''


def test_a_model_is_one_file_and_one_conf_file(tmp_path):
    """Adding a model touches two files: models/<name>.py and conf/model/<name>.yaml. In a copy
    of the sources, the new kind is registered, its section composes and validates, it fits and
    samples, and the report puts it in the family its class declares."""
    import shutil

    shutil.copytree(SRC / "genbench", tmp_path / "src" / "genbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    (tmp_path / "src/genbench/models/toy_mean.py").write_text(TOY_MODEL)
    (tmp_path / "conf/model/toy_mean.yaml").write_text(
        "# @package models.toy_mean\nkind: toy_mean\nnoise: 0.1\n")
    code = f"""
import json, torch, yaml
import genbench
assert genbench.__file__.startswith({str(tmp_path)!r}), genbench.__file__
from genbench.core.config import compose_params
from genbench.models.registry import model_class, model_config_of
from genbench.params import load_params
from genbench.report import family
raw = compose_params(["data=digits", "budget=smoke", "model=[toy_mean]"],
                     conf_dir={str(tmp_path / "conf")!r})
open({str(tmp_path / "params.yaml")!r}, "w").write(yaml.safe_dump(raw))
params = load_params({str(tmp_path / "params.yaml")!r})
cfg = model_config_of(params, "toy_mean")
model = model_class(cfg.kind)(cfg, (1, 8, 8), 10)
model.fit(torch.rand(32, 1, 8, 8), torch.zeros(32, dtype=torch.long))
x = model.sample(5, torch.Generator().manual_seed(0))
print(json.dumps([list(params.models), cfg.noise, list(x.shape), family("toy_mean")]))
"""
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       check=False,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.splitlines()[-1]) == [["toy_mean"], 0.1, [5, 1, 8, 8],
                                                     "Linear models and mixtures"]
