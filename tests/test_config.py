"""params.yaml is composed from conf/, every section validates, bad values fail in one line."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from genbench.core.config import compose_params, read_model_conf
from genbench.core.errors import ConfigError
from genbench.models.registry import model_config_of
from genbench.params import load_params


def test_params_yaml_is_composed_from_conf(root):
    committed = yaml.safe_load((root / "params.yaml").read_text())
    assert compose_params(conf_dir=root / "conf") == committed, "run `make params` after editing conf/"


def test_every_conf_option_validates(root, tmp_path):
    for group in ("data", "budget"):
        for f in (root / "conf" / group).glob("*.yaml"):
            made_for = (yaml.safe_load(f.read_text()) or {}).get("data")  # budget=paper: mnist
            extra = [f"data={made_for[0]}"] if group == "budget" and made_for else []
            raw = compose_params([f"{group}={f.stem}", *extra], conf_dir=root / "conf")
            p = tmp_path / f"{group}-{f.stem}.yaml"
            p.write_text(yaml.safe_dump(raw))
            assert load_params(p).data.name == raw["data"]["name"]


def test_paper_budget_sets_the_papers_schedules_and_needs_full_mnist(root, tmp_path):
    raw = compose_params(["budget=paper", "data=mnist"], conf_dir=root / "conf")
    p = tmp_path / "paper.yaml"
    p.write_text(yaml.safe_dump(raw))
    params = load_params(p)
    vae = model_config_of(params, "vae")  # Burda et al. 2016's VAE and schedule
    assert (vae.batch_size, vae.steps, vae.latent_dim, vae.epochs) == (20, 9_840_000, 50, None)
    assert model_config_of(params, "wgan_gp").d_steps == 5
    assert model_config_of(params, "dcgan").batch_size == 128
    assert model_config_of(params, "dcgan").epochs == 50  # no step count given: the epoch rule
    assert "epochs" not in params.models["pca"]  # closed form: nothing to count
    raw = compose_params(["budget=paper"], conf_dir=root / "conf")  # default data: mnist5k
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"budget = paper: made for data mnist, fashion_mnist, "
                                          r"not mnist5k \(-S data=mnist\)"):
        load_params(p)


def test_epoch_rule_trains_whole_passes(digits_workdir, tmp_path):
    """budget.epochs: steps = ceil(epochs x train size / batch size)."""
    import json

    from conftest import ROOT, train_cmd

    from genbench.core import data as D

    raw = yaml.safe_load((digits_workdir / "params.yaml").read_text())
    raw["budget"].update({"epochs": 2, "max_steps": None})
    (digits_workdir / "epochs.yaml").write_text(yaml.safe_dump(raw))
    cmd = [a.replace("models/vae/", "models/vae-epochs/").replace("vae.pt", "vae-epochs.pt")
           for a in train_cmd(ROOT, "vae", "epochs.yaml")]
    subprocess.run(cmd, cwd=digits_workdir, check=True, capture_output=True)
    info = json.loads((digits_workdir / "models/vae-epochs/train.json").read_text())
    n = len(D.load_split(digits_workdir / "data/processed", "train"))
    assert info["steps"] == -(-2 * n // info["batch_size"])


def test_multi_model_selection(root):
    raw = compose_params(["model=[vae,dcgan]"], conf_dir=root / "conf")
    assert list(raw["models"]) == ["vae", "dcgan"]


BAD = [  # (path into params, value, words the one-line error must contain)
    (("models", "vae", "lr"), -0.001, ["models.vae.lr", "-0.001", "greater than 0"]),
    (("models", "vae", "lr"), "fast", ["models.vae.lr", "'fast'", "number"]),
    (("models", "vae", "latent_dim"), 0, ["models.vae.latent_dim", "0", "greater than or equal to 1"]),
    (("models", "vae", "colour"), 3, ["models.vae.colour", "unknown key", "latent_dim"]),
    (("models", "vae", "kind"), "vea", ["models.vae.kind", "'vea'", "registered", "gan, gan_cls, gmm, gsn, infogan"]),
    (("models", "dcgan", "loss"), "wasserstien", ["models.dcgan.loss", "non_saturating"]),
    (("budget", "n_samples"), 5, ["budget.n_samples", "5", "greater than or equal to 20"]),
    (("data", "name"), "imagenet", ["data.name", "'imagenet'", "mnist5k"]),
    (("train", "device"), "tpu", ["train.device", "'tpu'", "auto"]),
    (("evaluator", "extra"), 1, ["evaluator.extra", "unknown key", "backbone"]),
    (("models", "wgan", "label_smoothing"), 0.1, ["models.wgan", "label_smoothing needs a loss"]),
    (("models", "dcgan", "clip"), -1.0, ["models.dcgan.clip", "greater than 0"]),
    (("toys", "mixtures", "models", "gan", "loss"), "mse", ["toys.mixtures.models.gan.loss"]),
    # a layer of no units used to train (a silent wrong result: NLL 43.9 against 27.3)
    (("models", "vae", "hidden"), [0], ["models.vae.hidden.0", "greater than or equal to 1"]),
    (("models", "aae", "disc_hidden"), [256, -5], ["models.aae.disc_hidden.1", "-5"]),
    (("more_seeds",), [0], ["more_seeds", "none of seed and seeds"]),
    # a check across keys: its own words, not "<nothing> = a mapping of 18 keys (…): Value error"
    (("seeds",), [0], ["seeds = [0]: the main seed 0 runs in the main chains"]),
]


@pytest.mark.parametrize("path,value,words", BAD, ids=[".".join(b[0]) + f"={b[1]}" for b in BAD])
def test_bad_values_give_one_line_naming_key_value_and_allowed(root, tmp_path, path, value, words):
    raw = copy.deepcopy(yaml.safe_load((root / "params.yaml").read_text()))
    node = raw
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as err:
        load_params(p)
    msg = str(err.value)
    assert "\n" not in msg and "Value error" not in msg and "a mapping of" not in msg, msg
    for w in words:
        assert w in msg, msg


def test_stage_refuses_bad_config_fast_without_outputs(root, tmp_path):
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["models"]["vae"]["lr"] = 0
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(root / "stages" / "train.py"), "--model", "vae",
                        "--data", "data/processed", "--out", "out/model.pt", "--losses",
                        "out/losses.csv", "--info", "out/train.json", "--checkpoint", "ck.pt"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2
    assert time.perf_counter() - t0 < 30
    lines = r.stderr.strip().splitlines()
    assert lines == ["error: models.vae.lr = 0: Input should be greater than 0"], r.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "mlflow.db").exists()


def test_batch_larger_than_split_is_refused_before_any_output(root, digits_workdir, tmp_path):
    import shutil

    raw = yaml.safe_load((digits_workdir / "params.yaml").read_text())
    raw["models"]["vae"]["batch_size"] = 5000
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    shutil.copytree(digits_workdir / "data", tmp_path / "data")
    from conftest import train_cmd

    r = subprocess.run(train_cmd(root, "vae"), cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == ("error: models.vae.batch_size = 5000: must be ≤ the train split "
                                "size (1437)"), r.stderr
    assert not (tmp_path / "models").exists() and not (tmp_path / "mlflow.db").exists()


def test_each_view_hashes_the_code_its_stage_imports(root, tmp_path):
    """The params stage's ``code`` entry of a view: the stage script, the genbench modules it
    imports (lazy ones included) and only the view's own model file; editing a file changes
    exactly the views whose stage runs it."""
    import shutil

    from genbench.core.code import Sources

    src = Sources(root / "src/genbench", root / "stages", root)
    train_vae = src.fingerprint("train", "vae")
    assert {"stages/train.py", "src/genbench/pipeline/train.py", "src/genbench/models/vae.py",
            "src/genbench/core/engine.py", "src/genbench/models/base.py"} <= set(train_vae)
    assert not any(p.startswith("src/genbench/models/") and p.endswith(("gan.py", "pca.py"))
                   for p in train_vae)  # another model's file is not this chain's code
    assert "src/genbench/models/autoregressive.py" in src.fingerprint("train", "pixelcnn")
    assert "src/genbench/models/autoregressive.py" not in train_vae
    evaluate = src.fingerprint("evaluate", "ae")
    assert {"src/genbench/analysis/runner.py", "src/genbench/metrics.py"} <= set(evaluate)
    assert "src/genbench/metrics.py" not in src.fingerprint("sample", "ae")
    assert {p for p in src.fingerprint("download") if "/models/" in p} <= {
        f"src/genbench/models/{f}.py" for f in ("__init__", "registry", "base")}  # no model file

    # a copy of the sources with one model file edited: only that kind's views change
    shutil.copytree(root / "src/genbench", tmp_path / "src/genbench")
    shutil.copytree(root / "stages", tmp_path / "stages")
    with open(tmp_path / "src/genbench/models/gmm.py", "a") as f:
        f.write("# edited\n")
    edited = Sources(tmp_path / "src/genbench", tmp_path / "stages", tmp_path)
    for stage in ("train", "sample", "evaluate"):
        assert edited.fingerprint(stage, "gmm") != src.fingerprint(stage, "gmm")
        assert edited.fingerprint(stage, "vae") == src.fingerprint(stage, "vae")
    assert edited.fingerprint("evaluator") == src.fingerprint("evaluator")


def test_a_model_chain_hashes_the_file_that_registers_its_kind(root, tmp_path):
    """The view of a kind's chain names the file whose class it registers, found by the
    ``@register`` decorator, not by the kind's name: a model file may be called anything."""
    import inspect
    import shutil

    from genbench.core.code import Sources
    from genbench.models.registry import registered

    src = Sources(root / "src/genbench", root / "stages", root)
    for kind, cls in registered().items():
        own = str(Path(inspect.getfile(cls)).resolve().relative_to(root))
        assert own in src.fingerprint("train", kind), kind
    shutil.copytree(root / "src/genbench", tmp_path / "src/genbench")
    shutil.copytree(root / "stages", tmp_path / "stages")
    (tmp_path / "src/genbench/models/nmf.py").rename(tmp_path / "src/genbench/models/parts.py")
    moved = Sources(tmp_path / "src/genbench", tmp_path / "stages", tmp_path)
    assert "src/genbench/models/parts.py" in moved.fingerprint("train", "nmf")


def _params_stage(root, tmp_path, claims=None, **changes):
    """Run the params stage on params.yaml with ``changes`` ({"a.b": value}) and the claims
    file ``claims`` (default: the repository's); (rc, stderr)."""
    raw = yaml.safe_load((root / "params.yaml").read_text())
    for key, value in changes.items():
        node = raw
        *path, last = key.split(".")
        for k in path:
            node = node[k]
        node[last] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    r = subprocess.run([sys.executable, "stages/params.py", "--params",
                        str(tmp_path / "params.yaml"), "--out", str(tmp_path / "views"),
                        "--src", "src/genbench", "--stages", "stages", "--conf", "conf",
                        "--claims", str(claims or root / "conf" / "claims.yaml")],
                       cwd=root, capture_output=True, text=True)
    return r.returncode, r.stderr


PRECHECKS = [  # what only a later stage used to find, after DVC had deleted its outputs
    ({"models.vae.batch_size": 4000}, "error: models.vae.batch_size = 4000: must be ≤ the train "
                                      "split size (3999)"),
    ({"data.val_fraction": 0.3, "models.vae.batch_size": 3001},
     "error: models.vae.batch_size = 3001: must be ≤ the train split size (3000)"),
    ({"evaluator.batch_size": 5000}, "error: evaluator.batch_size = 5000: must be ≤ the train "
                                     "split size (3999)"),
    ({"analysis.finetune.labels": [100, 4000]}, "error: analysis.finetune.labels: 4000 > the "
                                                "train split size (3999)"),
    ({"evaluator.backbone": "inception"}, "error: evaluator.inception_weights = None: file not "
                                          "found on this machine"),
    ({"analysis.anomaly.models": ["ae", "vea"]}, "error: analysis.anomaly.models: 'vea' is not "
                                                 "a model (conf/model/vea.yaml does not exist)"),
    # torchrun used to start them and print the failure once per process
    ({"train.nproc": 4096}, "error: train.nproc = 4096: this machine has"),
    # MLflow's client used to retry for 5 min after the stage's work was done
    ({"mlflow.tracking_uri": "http://127.0.0.1:9"}, "error: MLflow tracking server "
                                                    "http://127.0.0.1:9: not reachable"),
]


@pytest.mark.parametrize("changes,line", PRECHECKS, ids=[",".join(c) for c, _ in PRECHECKS])
def test_the_params_stage_refuses_what_a_later_stage_would_fail_on(root, tmp_path, changes,
                                                                   line):
    rc, err = _params_stage(root, tmp_path, **changes)
    assert rc == 2 and err.startswith(line) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "views").exists()


@pytest.mark.parametrize("old,new,line", [
    ("check: gan:fid < gan_mm:fid", "check: gan:fid =< gan_mm:fid",
     "claim ns_beats_minimax: check 'gan:fid =< gan_mm:fid': operand 'gan:fid =' is not "
     "model:metric.path"),
    ("check: gan:fid < gan_mm:fid", "check: gan:fid < gam_mm:fid",
     "claim ns_beats_minimax: gam_mm is not a model (no conf/model/gam_mm.yaml)")])
def test_a_claim_typo_stops_the_params_stage(root, tmp_path, old, new, line):
    """The claims stage used to find it after DVC had deleted reports/claims.json."""
    claims = tmp_path / "claims.yaml"
    claims.write_text((root / "conf" / "claims.yaml").read_text().replace(old, new, 1))
    rc, err = _params_stage(root, tmp_path, claims=claims)
    assert rc == 2 and err.startswith(f"error: {claims}: {line}"), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "views").exists()


def test_a_refused_params_file_gives_back_the_last_valid_one(root, tmp_path):
    """A failed `dvc exp run -S ...` leaves params.yaml as it was: the params stage keeps a copy
    of each file that passed (params/last_valid_params.yaml) and, refusing one, puts that back
    and the refused one beside it as params.yaml.rejected (named in the one line)."""
    rc, err = _params_stage(root, tmp_path)
    assert rc == 0, err
    good = (tmp_path / "params.yaml").read_text()
    assert (tmp_path / "views" / "last_valid_params.yaml").read_text() == good
    rc, err = _params_stage(root, tmp_path, **{"models.vae.hidden": [0]})
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: models.vae.hidden.0 = 0:") and "is back to the last valid" \
        in err and "params.yaml.rejected" in err, err
    assert (tmp_path / "params.yaml").read_text() == good
    assert "- 0" in (tmp_path / "params.yaml.rejected").read_text()


def test_the_params_stage_accepts_the_largest_batch_that_fits(root, tmp_path):
    rc, err = _params_stage(root, tmp_path, **{"models.vae.batch_size": 3999})
    assert rc == 0, err


def test_cuda_on_a_machine_without_cuda_is_refused_by_the_params_stage(root, tmp_path):
    """The params stage runs first: a device this machine lacks stops the pipeline there."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    rc, err = _params_stage(root, tmp_path, **{"train.device": "cuda"})
    assert rc == 2
    assert err.startswith("error: train.device = 'cuda': no CUDA device on this machine"), err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "views").exists()


#: settings whose composed value is a choice, not a default: the data set's own checksums and
#: domains (conf/data/<name>.yaml), the extra seeds and the models they train, the analyses the
#: claims read (derived from conf/claims.yaml, checked by test_claims)
CHOSEN = {"data.sha256", "data.translation.unpaired", "data.translation.unpaired_margin",
          "seeds", "seeded", "more_seeds", "more_seeded", "analysis.for_seeds"}


def _disagreements(cls, section: dict, where: str) -> list[str]:
    """``key: python vs yaml`` for each field of ``cls`` whose default differs from
    ``section``'s value (nested sections followed)."""
    from pydantic import BaseModel
    from pydantic_core import PydanticUndefined

    out = []
    for name, f in cls.model_fields.items():
        key = f"{where}.{name}" if where else name
        if name not in section or key in CHOSEN:
            continue
        value, ann = section[name], f.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel) and isinstance(value, dict):
            out += _disagreements(ann, value, key)
            continue
        default = f.get_default(call_default_factory=True)
        if default is PydanticUndefined:
            continue  # required: conf/ is its one home
        default = default.model_dump() if isinstance(default, BaseModel) else default
        default = list(default) if isinstance(default, tuple) else default
        if default != value:
            out.append(f"{key}: {default!r} in Python, {value!r} in conf/")
    return out


def test_each_setting_has_one_default(root):
    """Where conf/ sets a value (config.yaml and its groups; conf/model/<kind>.yaml for a
    kind's class), the Python default is the same: a variant that leaves a field out gets what
    the base recipe says, and code that builds a section without conf/ gets the same."""
    from genbench.core.config import Params
    from genbench.models.registry import registered

    wrong = _disagreements(Params, compose_params(conf_dir=root / "conf"), "")
    for kind, cls in registered().items():
        base = root / "conf" / "model" / f"{kind}.yaml"
        assert base.exists(), f"kind {kind}: no conf/model/{kind}.yaml (its base recipe)"
        wrong += _disagreements(cls.Config, read_model_conf(base, tuned=False),
                                f"models.{kind}")
    assert not wrong, "defaults that disagree: " + "; ".join(wrong)
