"""The one training engine. It knows the model contract — :class:`Batch` in, named
:class:`OptimGroup` out, a dict of losses per group (the model side: :mod:`genbench.models.base`,
which imports this module, never the reverse) — and never the objective; it does the rest —
device placement, the training precision (fp32 or bf16 autocast, :mod:`genbench.core.precision`),
batching from the whole split held as one tensor on the device, backward and optimizer steps,
logging, atomic checkpoints, resume, NaN detection — in one process or data-parallel over the
processes of a ``torchrun`` launch (:mod:`genbench.core.distributed`: each rank trains on its
shard of the global batch, rank 0 alone writes).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import torch

from genbench.core import distributed as Dist
from genbench.core import precision as P
from genbench.core.config import EngineConfig
from genbench.core.data import Split
from genbench.core.errors import DataError, Interrupted, TrainingError
from genbench.core.io import torch_load, torch_save
from genbench.core.transforms import Transform

log = logging.getLogger("genbench.core.engine")
CHECKPOINT_FORMAT = 1


class Batch(NamedTuple):
    x: torch.Tensor  # (B, C, H, W) floats in the model's input space
    y: torch.Tensor  # (B,) int64 class labels


@dataclass
class OptimGroup:
    """Parameters stepped together by one optimizer.

    ``steps``: updates of this group per engine step (k discriminator steps per generator step).
    ``schedule``: ``constant`` lr, ``linear``: lr · (1 − t / T) at engine step t of T, to 0 at
    the end (e.g. PCD, whose persistent chains become the model's samples as the lr vanishes:
    Tieleman 2008, §4), or a function (t, T) -> the factor of lr at step t (a model trained in
    phases decays each phase's rate on its own).
    """

    params: list[torch.nn.Parameter]
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    steps: int = 1
    optimizer: str = "adam"
    weight_decay: float = 0.0
    extra: dict = field(default_factory=dict)
    schedule: str | Callable[[int, int], float] = "constant"


def make_optimizer(g: OptimGroup) -> torch.optim.Optimizer:
    if not callable(g.schedule) and g.schedule not in ("constant", "linear"):
        raise ValueError(f"unknown lr schedule {g.schedule!r}")
    if g.optimizer == "adam":
        return torch.optim.Adam(g.params, lr=g.lr, betas=g.betas, weight_decay=g.weight_decay)
    if g.optimizer == "rmsprop":
        return torch.optim.RMSprop(g.params, lr=g.lr, weight_decay=g.weight_decay)
    if g.optimizer == "sgd":
        return torch.optim.SGD(g.params, lr=g.lr, momentum=g.betas[0], weight_decay=g.weight_decay)
    raise ValueError(f"unknown optimizer {g.optimizer!r}")


def _read_checkpoint(path: Path, name: str) -> dict | None:
    """The resume checkpoint at ``path``, or None when there is none; a damaged one is moved
    aside to ``<path>.corrupt`` (kept for inspection) with a warning, and training starts over
    instead of failing on every rerun."""
    if not path.exists():
        return None
    try:
        aside = path.with_name(path.name + ".corrupt")
        # the fix is what happens next, not a command for the user
        ck = torch_load(path, fix=f"moved it to {aside}, training starts from step 0")
        if not isinstance(ck, dict) or "step" not in ck:
            raise DataError(f"{path}: not a genbench checkpoint; moved it to {aside}, training "
                            f"starts from step 0")
        return ck
    except DataError as err:
        path.replace(aside)
        log.warning("%s: %s", name, err)
        return None


class BatchIndexer:
    """Minibatch indices without a DataLoader: batch ``b`` is a slice of epoch ``b // per_epoch``'s
    seeded permutation. Stateless in ``b``, so a resumed run draws exactly the same batches."""

    def __init__(self, n: int, batch_size: int, seed: int, device: torch.device):
        self.n, self.bs, self.seed, self.device = n, batch_size, seed, device
        self.per_epoch = max(1, n // batch_size)  # drop the last incomplete batch
        self._epoch, self._perm = -1, None

    def __call__(self, b: int) -> torch.Tensor:
        epoch, i = divmod(b, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(self.n, generator=g).to(self.device)
            self._epoch = epoch
        return self._perm[i * self.bs:(i + 1) * self.bs]


@dataclass
class FitResult:
    steps: int  # engine steps done in total (0 for closed-form models)
    seconds: float  # wall time of this call
    history: list[dict[str, float]] = field(default_factory=list)  # one row per log point
    resumed_from: int | None = None
    device: str = "cpu"
    precision: str = "fp32"  # what the steps ran in (train.precision resolved for the model)
    #: the learning curve's points: {"step", "seconds", "cpu_seconds", "state"} at the
    #: ``snapshots`` steps asked of :func:`fit` (the model's state_dict on the CPU; the seconds
    #: are those of training up to that step, over resumes)
    snapshots: list[dict] = field(default_factory=list)


def curve_steps(steps: int, points: int) -> list[int]:
    """``points`` engine steps evenly spread over a run of ``steps`` (the last one included):
    where the learning curve is measured. [] without steps or points."""
    if not steps or not points:
        return []
    return sorted({max(1, round(steps * (i + 1) / points)) for i in range(points)})


def _snapshot(model: torch.nn.Module, step: int, seconds: float, cpu_seconds: float) -> dict:
    state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    return {"step": step, "seconds": seconds, "cpu_seconds": cpu_seconds, "state": state}


def _rng_state(device: torch.device) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _progress(total: int, initial: int, name: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=f"train {name}", unit="step", disable=not enabled,
                mininterval=2.0, dynamic_ncols=True)


def fit(model: torch.nn.Module, split: Split, *, transform: Transform, steps: int,
        batch_size: int, seed: int, engine: EngineConfig, name: str,
        ckpt_path: Path | str | None = None, meta: dict | None = None,
        on_log: Callable[[int, dict[str, float]], None] | None = None,
        snapshots: list[int] | tuple[int, ...] = ()) -> FitResult:
    """Train ``model`` on ``split`` for ``steps`` engine steps (or fit it in closed form).

    One engine step runs every optimizer group once, each ``group.steps`` times. ``meta`` is
    stored in checkpoints; a checkpoint whose ``meta["fingerprint"]`` differs is ignored, so a
    resume never mixes configs. ``on_log(step, metrics)`` is called every ``engine.log_every``
    steps with host floats (the only device sync besides checkpoints and the NaN check).
    ``snapshots``: engine steps after which a copy of the model's state is kept (the learning
    curve's points, :func:`curve_steps`); they travel in the checkpoints, so a resumed run
    returns the same ones.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    if engine.threads:
        torch.set_num_threads(engine.threads)
    device = Dist.resolve_device(engine.device)
    if device.type == "cuda" and Dist.world() > 1:  # each rank its own GPU (distributed.init)
        device = torch.device("cuda", torch.cuda.current_device())
    model.to(device)
    meta = dict(meta or {})
    ckpt_path = Path(ckpt_path) if ckpt_path else None
    groups = model.optimizer_groups()
    x_all = transform.prepare(split.x.to(device))  # (N, C, H, W) stored form, on the device
    y_all = split.y.to(device)

    if not groups:  # closed form (PCA, mixtures fitted by EM inside fit)
        torch.manual_seed(seed)
        row = {"step": 0, **model.fit(transform.batch(x_all), y_all)}
        if on_log:
            on_log(0, row)
        if ckpt_path:  # the fitted state, in the same self-describing format
            torch_save(ckpt_path, {"format": CHECKPOINT_FORMAT, "step": 0, "meta": meta,
                                   "fingerprint": meta.get("fingerprint"),
                                   "model": model.state_dict(), "optimizers": {},
                                   "rng": _rng_state(device), "history": [row]})
        return FitResult(0, time.perf_counter() - t0, [row], device=str(device))

    step_fn = model.losses
    if Dist.world() > 1:
        reason = Dist.blocker(model, device)
        if reason:
            from genbench.core.errors import ConfigError

            raise ConfigError(f"{name}: not data-parallel ({reason}); set train.nproc: 1")
        if batch_size % Dist.world():
            from genbench.core.errors import ConfigError

            raise ConfigError(f"models.{name}.batch_size = {batch_size}: must be a multiple of "
                              f"train.nproc ({Dist.world()})")
        step_fn = Dist.wrap(model, device, len(groups))
    opts = {g: make_optimizer(spec) for g, spec in groups.items()}
    torch.manual_seed(Dist.rank_seed(seed))
    if getattr(model, "on_train_start", None) is not None:
        with torch.no_grad():  # only models that use it: others keep their RNG stream
            model.on_train_start(transform.batch(x_all), y_all)
    start, history, resumed = 0, [], None
    kept: list[dict] = []  # snapshots taken so far
    seconds_before = cpu_before = 0.0  # training time of the steps done before a resume
    ck = _read_checkpoint(ckpt_path, name) if ckpt_path else None
    if ck is not None:
        if ck.get("fingerprint") == meta.get("fingerprint") and ck.get("step", 0) <= steps:
            model.load_state_dict(ck["model"])
            for g, opt in opts.items():
                opt.load_state_dict(ck["optimizers"][g])
            # every rank continues its own random stream (a one-process checkpoint has one)
            _set_rng_state(ck.get("rng_ranks", [ck["rng"]])[Dist.rank()], device)
            start, history, resumed = ck["step"], list(ck["history"]), ck["step"]
            kept = list(ck.get("snapshots", []))
            seconds_before, cpu_before = ck.get("train_seconds", (0.0, 0.0))
            log.warning("%s: resuming from checkpoint step %d (%s)", name, start, ckpt_path)
        else:
            log.warning("%s: ignoring checkpoint %s (other config, data or longer run)", name,
                        ckpt_path)

    index = BatchIndexer(len(split), batch_size, seed, device)
    draws = sum(spec.steps for spec in groups.values())  # batches drawn per engine step
    freeze = len(groups) > 1  # don't compute grads of the other groups' params (e.g. D in a G step)
    all_params = [p for spec in groups.values() for p in spec.params]
    precision = P.resolve(engine.precision, model, device)
    sums: dict[str, torch.Tensor] = {}
    count = 0
    pending: tuple[int, list[tuple[str, torch.Tensor]]] | None = None
    bar = _progress(steps, start, name, engine.progress and Dist.is_main())

    def check(step: int, losses: list[tuple[str, torch.Tensor]]) -> None:
        bad = [g for g, loss in losses if not torch.isfinite(loss).item()]
        if bad:
            last = ck_step_on_disk()
            raise TrainingError(f"{name}: non-finite loss in group {bad[0]!r} at step {step}; "
                                f"stopped; last good checkpoint: "
                                f"{f'step {last} in {ckpt_path}' if last is not None else 'none'}")

    def ck_step_on_disk() -> int | None:
        ck = _read_checkpoint(ckpt_path, name) if ckpt_path else None
        return ck["step"] if ck is not None and ck.get("fingerprint") == meta.get("fingerprint") \
            else None

    done = start
    snap_at = set(snapshots)

    def trained() -> tuple[float, float]:  # (wall, CPU) seconds of training so far
        return (seconds_before + time.perf_counter() - t0,
                cpu_before + time.process_time() - c0)

    try:
        for step in range(start, steps):
            b = step * draws
            step_losses: list[tuple[str, torch.Tensor]] = []
            for g, spec in groups.items():
                if spec.schedule != "constant":  # stateless in the step: a resume needs nothing
                    factor = spec.schedule(step, steps) if callable(spec.schedule) else \
                        1 - step / steps
                    for pg in opts[g].param_groups:
                        pg["lr"] = spec.lr * factor
                if freeze:
                    mine = {id(p) for p in spec.params}
                    for p in all_params:
                        p.requires_grad_(id(p) in mine)
                for _ in range(spec.steps):
                    idx = Dist.shard(index(b))  # (B / nproc,) this rank's part of the batch
                    b += 1
                    batch = Batch(transform.batch(x_all[idx]), y_all[idx])
                    with P.autocast(precision, device):
                        out = step_fn(batch, g)
                    loss = out["loss"]
                    opts[g].zero_grad(set_to_none=True)
                    loss.backward()
                    opts[g].step()
                    model.on_step_end(g)
                    step_losses.append((g, loss.detach()))
                    for k, v in out.items():
                        key = f"{g}/{k}" if len(groups) > 1 else k
                        sums[key] = sums.get(key, 0) + v.detach().float()
            count += 1
            # NaN/inf check of the previous step: its result is ready by now, so reading it
            # does not stall the device; a bad loss stops the run within one step.
            if pending is not None:
                check(*pending)
            pending = (step, step_losses)
            done = step + 1
            if done % engine.log_every == 0 or done == steps:
                sums = Dist.mean_over_ranks(sums)  # the global batch's means
                row = {"step": done, **{k: float(v) / count for k, v in sums.items()}}
                history.append(row)
                sums, count = {}, 0
                bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k != "step"},
                                refresh=False)
                if on_log:
                    on_log(done, row)
            bar.update(1)
            if done in snap_at and Dist.is_main():
                kept.append(_snapshot(model, done, *trained()))
            if ckpt_path and (done % engine.checkpoint_every == 0 or done == steps):
                check(*pending)  # never write a checkpoint from a diverged state
                pending = None
                rngs = Dist.gather(_rng_state(device))  # every rank takes part
                if Dist.is_main():
                    torch_save(ckpt_path, {
                        "format": CHECKPOINT_FORMAT, "step": done,
                        "fingerprint": meta.get("fingerprint"), "meta": meta,
                        "model": model.state_dict(),
                        "optimizers": {g: o.state_dict() for g, o in opts.items()},
                        "rng": rngs[0], **({"rng_ranks": rngs} if len(rngs) > 1 else {}),
                        "history": history, "snapshots": kept, "train_seconds": trained()})
        if pending is not None:
            check(*pending)
        if hasattr(model, "on_train_end"):
            with torch.no_grad():
                model.on_train_end(transform.batch(x_all), y_all)
    except KeyboardInterrupt:
        last = ck_step_on_disk()
        where = (f"a rerun resumes from step {last} ({ckpt_path})" if last is not None else
                 f"no checkpoint yet (one every {engine.checkpoint_every} steps): a rerun "
                 f"starts from step 0")
        raise Interrupted(f"{name}: interrupted at step {done}; {where}") from None
    finally:
        bar.close()
        for p in all_params:
            p.requires_grad_(True)
    return FitResult(steps, time.perf_counter() - t0, history, resumed, str(device), precision,
                     kept)
