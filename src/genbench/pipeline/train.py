"""Stage ``train@<model>``: fit one model through the engine, track it in MLflow, save it."""

from __future__ import annotations

import csv
import io

import torch

from genbench.core import data as D
from genbench.core import transforms as T
from genbench.core.config import TrainView
from genbench.core.errors import ConfigError
from genbench.core.io import write_json, write_text
from genbench.nn import classifier as NC
from genbench.pipeline.common import code_fingerprint, fingerprint, split_fingerprint


def build_model(params: TrainView, name: str, meta: dict):
    from genbench.models.registry import model_class, model_config_of

    cfg = model_config_of(params, name)
    cls = model_class(cfg.kind)
    if cls.translates:  # the domains it translates come with the data
        from genbench.core.config import TranslationConfig

        cfg = cfg.model_copy(update={"domain": TranslationConfig(**meta["translation"])})
    try:
        return cls(cfg, tuple(meta["shape"]), meta["num_classes"])
    except ConfigError as err:  # a model's own checks name the field; add the section
        raise ConfigError(f"models.{name}.{err}") from None


def _write_history_csv(path, history: list[dict]) -> None:
    keys = ["step"] + sorted({k for row in history for k in row if k != "step"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for row in history:
        w.writerow({k: row.get(k, "") for k in keys})
    write_text(path, buf.getvalue())


def _attach_training_inputs(model, processed_dir, evaluator_path) -> None:
    """What a model needs besides its train split: the other domain (unpaired translation),
    the evaluator's features (a feature content loss)."""
    if model.unpaired:
        model.attach_unpaired(D.load_unpaired(processed_dir, "train").x)
    if model.needs_features:

        if evaluator_path is None:
            raise ConfigError(f"{model.kind}: content: features needs --evaluator")
        model.attach_features(NC.load_classifier(evaluator_path))


def images_per_second(result, batch_size: int) -> float | None:
    """Training throughput of this process: a resumed run's seconds cover only the steps after
    its checkpoint, so only those count."""
    ran = result.steps - (result.resumed_from or 0)
    return ran * batch_size / result.seconds if ran > 0 and result.seconds > 0 else None


def parallel_launch(params: TrainView, name: str, processed_dir, argv: list[str]) -> bool:
    """With ``train.nproc > 1``, run this stage (``argv``: its command line) as that many
    torchrun workers and return True once they succeeded; False when the caller should train in
    this process: one process asked, already a worker, or a model that is not data-parallel
    (logged in one line: :func:`genbench.core.distributed.blocker`)."""
    import logging

    from genbench.core import distributed as Dist
    from genbench.core.errors import TrainingError

    nproc = params.train.nproc
    if nproc == 1 or Dist.under_launcher():
        return False
    model = build_model(params, name, D.load_meta(processed_dir))
    reason = Dist.blocker(model, Dist.resolve_device(params.train.device))
    if reason:
        logging.getLogger("genbench.train").warning(
            "%s: trains in 1 process, not train.nproc = %d: not data-parallel (%s)",
            name, nproc, reason)
        return False
    rc = Dist.launch(nproc, argv)
    if rc:
        raise TrainingError(f"{name}: {nproc} torchrun workers failed (exit status {rc}; the "
                            f"failing rank's error is above)")
    return True


def train(params: TrainView, name: str, processed_dir, out_model, out_losses, out_info,
          ckpt_path, evaluator_path=None, out_curve=None) -> dict:
    """Stage ``train@<name>``: fit the model through the engine, save it with its loss history
    (the evaluate stage logs both to MLflow) and, with ``out_curve``, the snapshots of its
    learning curve (``train.curve_points`` states, measured by the evaluate stage). In a
    torchrun worker: join the process group, train data-parallel; rank 0 alone writes the
    outputs."""
    from genbench.core import distributed as Dist

    args = (params, name, processed_dir, out_model, out_losses, out_info, ckpt_path,
            evaluator_path, out_curve)
    if not Dist.under_launcher():
        return _train(*args)
    Dist.init(params.train.device)
    try:
        return _train(*args)
    finally:
        Dist.close()


def save_curve(path, name: str, snapshots: list[dict]) -> None:
    """The learning curve's snapshots (:attr:`genbench.core.engine.FitResult.snapshots`) as one
    file: ``{"format", "name", "points": [{"step", "seconds", "cpu_seconds", "state"}]}`` (no
    points for a closed-form model)."""
    from genbench.core.io import torch_save

    torch_save(path, {"format": CURVE_FORMAT, "name": name, "points": snapshots})


CURVE_FORMAT = 1


def _train(params: TrainView, name: str, processed_dir, out_model, out_losses, out_info,
           ckpt_path, evaluator_path, out_curve) -> dict:
    from genbench.core import distributed as Dist
    from genbench.core import engine
    from genbench.core import precision as P
    from genbench.models.checkpoint import save_model
    from genbench.models.registry import model_config_of

    cfg = model_config_of(params, name)
    meta = D.load_meta(processed_dir)
    torch.manual_seed(params.seed)  # the initial weights are part of the seeded run
    model = build_model(params, name, meta)  # validates model-specific ranges before any work
    train_split = D.load_split(processed_dir, "train")
    _attach_training_inputs(model, processed_dir, evaluator_path)
    steps = getattr(cfg, "steps", 0)
    batch_size = getattr(cfg, "batch_size", len(train_split))
    if getattr(cfg, "epochs", None):  # a budget's epoch rule: passes over this split
        steps = -(-cfg.epochs * len(train_split) // batch_size)
    if params.budget.max_steps and steps:
        steps = min(steps, params.budget.max_steps)
    if batch_size > len(train_split):
        raise ConfigError(f"models.{name}.batch_size = {batch_size}: must be ≤ the train split "
                          f"size ({len(train_split)})")
    # what a resumed run must share with the interrupted one: config, data, code and the
    # numerics (precision, thread count)
    precision = P.resolve(params.train.precision, model, Dist.resolve_device(params.train.device))
    snapshots = engine.curve_steps(steps, params.train.curve_points) if out_curve else []
    fp = fingerprint(model.cfg.model_dump(), steps, params.seed, split_fingerprint(processed_dir),
                     code_fingerprint(), precision, params.train.threads, snapshots,
                     *([Dist.world()] if Dist.world() > 1 else []))  # nproc 1: as before
    result = engine.fit(model, train_split, transform=T.get(model.input_transform),
                        steps=steps, batch_size=batch_size, seed=params.seed,
                        engine=params.train, name=name, ckpt_path=ckpt_path,
                        meta={"fingerprint": fp, "name": name}, snapshots=snapshots)
    info = {"model": name, "kind": cfg.kind, "seed": params.seed, "steps": result.steps,
            "batch_size": batch_size, "train_seconds": result.seconds, "device": result.device,
            "precision": result.precision, "threads": params.train.threads,
            **({"nproc": Dist.world()} if Dist.world() > 1 else {}),
            "resumed_from_step": result.resumed_from,
            "images_per_second": images_per_second(result, batch_size),
            "final": {k: v for k, v in (result.history[-1] if result.history else {}).items()
                      if k != "step"}}
    if not Dist.is_main():
        return info
    save_model(out_model, model.cpu(), name=name, step=result.steps, extra={"fingerprint": fp})
    if out_curve:
        save_curve(out_curve, name, result.snapshots)
    _write_history_csv(out_losses, result.history)
    write_json(out_info, info)
    return info
