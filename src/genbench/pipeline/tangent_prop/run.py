"""Stage ``tangent_prop``: the few-label classifier with and without the tangent penalty
(:mod:`genbench.analysis.tangent_prop`), through the one engine, over label counts and repeats.

For each label count n and repeat r: n train images drawn at random (seeded by r), the same
draw and the same initial weights for every variant — ``none`` (no penalty), and for each γ in
``tangent_prop.weights``: ``transforms`` (shift and rotation tangents) and ``encoder`` (the top
``tangent_prop.tangents`` right-singular vectors of ``tangent_prop.encoder``'s Jacobian, when
that model is selected) — each trained
``tangent_prop.steps`` steps of Adam and scored on the whole test split.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import torch

from genbench import tracking
from genbench.analysis import tangent_prop as TP
from genbench.analysis import tangents as TG
from genbench.core import data as D
from genbench.core import transforms as T
from genbench.core.config import TangentPropView
from genbench.core.io import write_json

log = logging.getLogger("genbench.tangent_prop")


def _encoder_tangents(models_dir: Path, name: str, x8: torch.Tensor, k: int) -> torch.Tensor:
    """(N, k, C, H, W) unit right-singular vectors of the encoder Jacobian at each image."""
    from genbench.models.checkpoint import load_model

    model, _ = load_model(models_dir / name / "model.pt", name)
    x = T.eval_transform(model.input_transform).batch(x8)
    _, v = TG.tangent_spectrum(model.encode, x)  # (N, min(J, D), D)
    return v[:, :k].reshape(len(x8), -1, *x8.shape[1:]).detach()


def _accuracy(net, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        pred = torch.cat([net(b).argmax(1) for b in x.split(1000)])
    return float((pred == y).float().mean())


def _train(params: TangentPropView, x: torch.Tensor, tangents: torch.Tensor | None,
           weight: float, y: torch.Tensor, k: int, seed: int, name: str):
    from genbench.core import engine

    cfg = params.tangent_prop
    c = x.shape[1]
    torch.manual_seed(seed)  # the same initial weights for every variant of a draw
    net = TP.MLP(x[0].numel(), cfg.hidden, k)
    packed = x if tangents is None else torch.cat([x, tangents.flatten(1, 2)], 1)
    trainer = TP.TangentPropTrainer(net, cfg.lr, weight, c)
    steps = min(cfg.steps, params.budget.max_steps or cfg.steps)
    result = engine.fit(trainer, D.Split(packed, y), transform=T.get("raw"), steps=steps,
                        batch_size=min(cfg.batch_size, len(y)), seed=seed,
                        engine=params.train.fp32(), name=name)
    return net.eval(), result.seconds


def tangent_prop(params: TangentPropView, processed_dir, models_dir, out_json) -> dict:
    t0 = time.perf_counter()
    cfg = params.tangent_prop
    meta = D.load_meta(processed_dir)
    train, test = D.load_split(processed_dir, "train"), D.load_split(processed_dir, "test")
    k = meta["num_classes"]
    xte = T.to_unit(test.x)
    sources = ["transforms"]
    skipped = {}
    if cfg.encoder in params.models:
        sources.append("encoder")
    else:
        skipped["encoder"] = f"tangent_prop.encoder = {cfg.encoder}: not a selected model"
    # variant -> (tangent source, γ); "none" is the same classifier without the penalty
    variants = {"none": (None, 0.0), **{f"{s} γ={w:g}": (s, w) for s in sources
                                        for w in cfg.weights}}
    runs: dict[str, dict[str, list[float]]] = {}
    seconds = 0.0
    for n in cfg.labels:
        n_eff = min(n, len(train))
        runs[str(n_eff)] = {v: [] for v in variants}
        for r in range(cfg.repeats):
            seed = params.seed * 1000 + r
            pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:n_eff]
            x8, y = train.x[pick], train.y[pick]
            x = T.to_unit(x8)
            tangents = {None: None, "transforms": TP.transform_tangents(x)}
            if "encoder" in sources:
                tangents["encoder"] = _encoder_tangents(Path(models_dir), cfg.encoder, x8,
                                                        cfg.tangents)
            for v, (source, weight) in variants.items():
                net, s = _train(params, x, tangents[source], weight, y, k, seed,
                                f"tangent-prop {v} n={n_eff}")
                seconds += s
                runs[str(n_eff)][v].append(_accuracy(net, xte, test.y))
            log.info("n=%d repeat %d: %s", n_eff, r,
                     ", ".join(f"{v} {runs[str(n_eff)][v][-1]:.4f}" for v in variants))
    table = {n: {v: {"mean": statistics.fmean(a), "std": statistics.stdev(a) if len(a) > 1
                     else 0.0, "runs": a} for v, a in per.items()} for n, per in runs.items()}
    out = {"labels": table, "variants": list(variants), "skipped": skipped,
           "encoder": cfg.encoder, "weights": cfg.weights,
           "steps": min(cfg.steps, params.budget.max_steps or cfg.steps),
           "repeats": cfg.repeats, "train_seconds": seconds, "seconds": time.perf_counter() - t0}
    write_json(out_json, out)
    tracking.log_stage_run(params.mlflow, name="tangent_prop",
                           params={"tangent_prop": cfg.model_dump()}, result=out,
                           artifacts=[out_json])
    return out
