"""Checks of params.yaml beyond its schema, run by the params stage before any stage that could
delete an output. DVC removes a stage's outputs before it runs the stage, so a value that only
fails inside train@<model> (a batch larger than the train split) or the evaluator (a weights file
that is not on this machine) used to cost that model's last good outputs; here it costs ~3 s.

- this machine: ``train.device: cuda`` needs a CUDA device; ``train.nproc`` processes need as
  many cores (CUDA devices); an ``http(s)`` MLflow tracking server answers within 5 s;
  ``evaluator.backbone: inception`` needs its weights file on disk;
- the data: every batch size and few-label count fits the train split, whose size follows from
  the data set's size and the split fractions exactly as :func:`genbench.core.data.split_indices`
  cuts it (scikit-learn's ``train_test_split``: the held-out part is ``ceil(fraction · n)``);
- names: the model names listed by the analyses are model configs (``conf/model/<name>.yaml``),
  so a typo is not silently skipped as "not selected".
"""

from __future__ import annotations

import math
from pathlib import Path

from genbench.core.errors import ConfigError
from genbench.models.registry import model_config_of

#: images per data set (torchvision's train and test parts are downloaded together)
DATA_SIZES = {"mnist5k": 5000, "digits": 1797, "mnist": 70000, "fashion_mnist": 70000,
              "cifar10": 60000}


def train_split_size(n: int, val_fraction: float, test_fraction: float) -> int:
    """Images in the train split of ``n``: test = ceil(test_fraction · n) first, then
    val = ceil(val_fraction / (1 − test_fraction) · rest), as split_indices does."""
    rest = n - math.ceil(test_fraction * n)
    return rest - math.ceil(val_fraction / (1.0 - test_fraction) * rest)


def check_machine(params) -> None:
    """A one-line :class:`ConfigError` if this machine cannot run ``params`` as written (torch
    is imported only when a CUDA device is asked for: the params stage stays ~1 s)."""
    if params.train.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else \
                f"CUDA {torch.version.cuda}"
            raise ConfigError(f"train.device = 'cuda': no CUDA device on this machine (torch "
                              f"{torch.__version__}, {build}); use auto or cpu")
    nproc = params.train.nproc
    if nproc > 1:  # torchrun would start them and fail in each (the error printed nproc times)
        import os

        from genbench.core.distributed import resolve_device

        device = resolve_device(params.train.device)
        if device.type == "cuda":
            import torch

            have, what = torch.cuda.device_count(), "CUDA devices"
        else:
            have = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
                else os.cpu_count() or 1
            what = "CPU cores"
        if nproc > have:
            raise ConfigError(f"train.nproc = {nproc}: this machine has {have} {what} for the "
                              f"data-parallel processes; use at most {have}")
    if params.mlflow.enabled:  # before any stage deletes an output to recompute it
        from genbench.tracking import check_server, tracking_uri

        check_server(tracking_uri(params.mlflow))
    ev = params.evaluator
    if ev.backbone == "inception" and not (ev.inception_weights
                                           and Path(ev.inception_weights).is_file()):
        raise ConfigError(f"evaluator.inception_weights = {ev.inception_weights!r}: file not "
                          f"found on this machine; the inception backbone needs torch-fidelity's "
                          f"pt_inception-2015-12-05-6726825d.pth on disk (it is never "
                          f"downloaded); or use evaluator.backbone=classifier")


def check_split_sizes(params) -> None:
    """Every batch size (each model's, the evaluator's) and few-label count fits the train
    split; the same one-line message the stages give, before DVC deletes anything."""
    d = params.data
    if d.name not in DATA_SIZES:
        return
    n = train_split_size(DATA_SIZES[d.name], d.val_fraction, d.test_fraction)
    for name in params.models:
        b = getattr(model_config_of(params, name), "batch_size", None)
        if b is not None and b > n:
            raise ConfigError(f"models.{name}.batch_size = {b}: must be ≤ the train split size "
                              f"({n})")
    if params.evaluator.batch_size > n:
        raise ConfigError(f"evaluator.batch_size = {params.evaluator.batch_size}: must be ≤ the "
                          f"train split size ({n})")
    finetune = params.analysis.finetune
    if any(m in params.models for m in finetune.models):
        for k in finetune.labels:
            if k > n:
                raise ConfigError(f"analysis.finetune.labels: {k} > the train split size ({n})")


def check_model_names(params, conf_dir: Path | str) -> None:
    """The models the analyses list are model configs (a listed model that is not selected is
    skipped; a name with no config is a typo)."""
    from genbench.conf_check import model_names

    known = model_names(conf_dir)
    if not known:
        return
    a = params.analysis
    for key, names in (("analysis.anomaly.models", a.anomaly.models),
                       ("analysis.finetune.models", a.finetune.models),
                       ("arithmetic.models", params.arithmetic.models),
                       ("tangent_prop.encoder", [params.tangent_prop.encoder])):
        for m in names:
            if m not in known and m not in params.models:
                raise ConfigError(f"{key}: {m!r} is not a model (conf/model/{m}.yaml does not "
                                  f"exist); models: {', '.join(known)}")


def check_claims(claims_file: Path | str, conf_dir: Path | str) -> None:
    """The claims file parses and names known models (genbench.claims.load_claims): checked
    here, since the claims stage finds it only after DVC has deleted reports/claims.json."""
    from genbench.claims import load_claims
    from genbench.conf_check import model_names

    load_claims(claims_file, set(model_names(conf_dir)) or None)


def check(params, conf_dir: Path | str | None = None,
          claims_file: Path | str | None = None) -> None:
    """Everything above, in that order."""
    check_machine(params)
    check_split_sizes(params)
    if conf_dir is not None:
        check_model_names(params, conf_dir)
        if claims_file is not None:
            check_claims(claims_file, conf_dir)


#: the copy of the last params file that passed, beside the views it made (params/)
LAST_VALID = "last_valid_params.yaml"


def keep_last_valid(params_file: Path | str, views_dir: Path | str) -> None:
    """Keep a copy of ``params_file`` once it has passed every check and made its views."""
    from genbench.core.io import write_text

    write_text(Path(views_dir) / LAST_VALID, Path(params_file).read_text())


def restore_last_valid(params_file: Path | str, views_dir: Path | str) -> str:
    """After a refused params file: put the last valid one back (a failed `dvc exp run -S`
    leaves the workspace as it was), the refused one beside it as ``<file>.rejected``; the
    words that say so (empty when there is no valid copy or nothing to restore)."""
    import shutil

    params_file, last = Path(params_file), Path(views_dir) / LAST_VALID
    if not last.exists() or not params_file.exists() or params_file.suffix not in (".yaml",
                                                                                   ".yml"):
        return ""
    if params_file.read_bytes() == last.read_bytes():
        return ""
    rejected = params_file.with_name(params_file.name + ".rejected")
    shutil.copyfile(params_file, rejected)
    shutil.copyfile(last, params_file)
    return f" ({params_file} is back to the last valid one; the refused one is {rejected})"
