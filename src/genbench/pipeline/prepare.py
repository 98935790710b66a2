"""Stage ``evaluator``: the domain classifier behind every metric, with the train split's
features and the real-data floor. (The stages before it, ``download`` and ``preprocess``, are
:func:`genbench.core.data.download` and :func:`genbench.core.data.preprocess`.)"""

from __future__ import annotations

import time

import torch

from genbench.core import data as D
from genbench.core import transforms as T
from genbench.core.config import EvaluatorView
from genbench.core.errors import ConfigError
from genbench.core.io import torch_save, write_json
from genbench.nn import classifier as NC
from genbench.pipeline.common import code_fingerprint, fingerprint, split_fingerprint


def _train_unpaired_classifier(params: EvaluatorView, processed_dir, meta: dict, out_path) -> dict:
    """The classifier of the unpaired translation domain (judges class preservation into it),
    trained like the main one; a file saying it is absent when data has no such domain."""
    from genbench import evaluator as E
    from genbench.core import engine

    cfg = params.evaluator
    if "unpaired" not in meta:
        torch_save(out_path, {"format": 1, "kind": "evaluator",
                              "absent": "data.translation.unpaired is null"})
        return {}
    train, test = (D.load_unpaired(processed_dir, s) for s in ("train", "test"))
    torch.manual_seed(params.seed)
    net = NC.build_classifier(cfg, meta["shape"], meta["num_classes"])
    trainer = E.ClassifierTrainer(net, cfg.lr, E.max_shift_for(meta["shape"]))
    batch = min(cfg.batch_size, len(train))
    steps = E.evaluator_steps(params.budget.evaluator_epochs, len(train), batch)
    result = engine.fit(trainer, train, transform=T.get("unit"), steps=steps, batch_size=batch,
                        seed=params.seed, engine=params.train.fp32(), name="evaluator-unpaired")
    net.cpu().eval()
    ref = E.reference_features(E.FeatureExtractor(net, cfg), train.x)  # B's train images
    NC.save_classifier(out_path, net, cfg, meta["shape"], meta["num_classes"], ref)
    return {"dataset": meta["unpaired"]["dataset"], "test_accuracy": E.accuracy(net, test.x, test.y),
            "train_seconds": result.seconds, "steps": steps}


def train_evaluator(params: EvaluatorView, processed_dir, out_model, out_metrics, ckpt_path,
                    out_unpaired) -> dict:
    """Stage ``evaluator``: train the domain classifier, report its accuracy and the real-data floor
    (the sample metrics of held-out real images); and the unpaired domain's classifier. The
    judges train in fp32 whatever ``train.precision`` says (their view has no precision), so the
    feature space every model is measured in does not move with it."""
    from genbench import evaluator as E
    from genbench.core import engine

    cfg = params.evaluator
    meta = D.load_meta(processed_dir)
    train, val, test = (D.load_split(processed_dir, s) for s in D.SPLITS)
    judge = params.train.fp32()
    if cfg.batch_size > len(train):
        raise ConfigError(f"evaluator.batch_size = {cfg.batch_size}: must be ≤ the train split "
                          f"size ({len(train)})")
    torch.manual_seed(params.seed)  # the initial weights are part of the seeded run
    net = NC.build_classifier(cfg, meta["shape"], meta["num_classes"])
    trainer = E.ClassifierTrainer(net, cfg.lr, E.max_shift_for(meta["shape"]))
    steps = E.evaluator_steps(params.budget.evaluator_epochs, len(train), cfg.batch_size)
    fp = fingerprint(cfg.model_dump(), steps, params.seed, split_fingerprint(processed_dir),
                     code_fingerprint(), params.train.threads)
    result = engine.fit(trainer, train, transform=T.get("unit"), steps=steps,
                        batch_size=cfg.batch_size, seed=params.seed, engine=judge,
                        name="evaluator", ckpt_path=ckpt_path, meta={"fingerprint": fp})
    net.cpu().eval()

    t0 = time.perf_counter()
    extract = E.FeatureExtractor(net, cfg)
    # the train split's features: the reference of every model's sample metrics, stored with
    # the classifier so that no evaluate stage computes them again
    reference = E.reference_features(extract, train.x)
    NC.save_classifier(out_model, net, cfg, meta["shape"], meta["num_classes"], reference)
    heldout = torch.cat([val.x, test.x])
    n = min(params.budget.n_samples, len(heldout))
    pick = E.heldout_pick(len(heldout), n, params.seed)
    floor = E.sample_metrics(extract, NC.as_reference(reference), heldout[pick], cfg,
                             meta["num_classes"], params.seed)
    out = {"test_accuracy": E.accuracy(net, test.x, test.y),
           "val_accuracy": E.accuracy(net, val.x, val.y),
           "train_seconds": result.seconds, "steps": steps, "backbone": cfg.backbone,
           "floor": floor, "floor_seconds": time.perf_counter() - t0}
    unpaired = _train_unpaired_classifier(params, processed_dir, meta, out_unpaired)
    if unpaired:
        out["unpaired"] = unpaired
    write_json(out_metrics, out)
    return out
