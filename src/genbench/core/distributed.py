"""Data-parallel training over processes with ``torch.distributed``.

The algorithm is PyTorch's DistributedDataParallel (Li et al. 2020, "PyTorch Distributed:
Experiences on Accelerating Data Parallel Training", VLDB): ``train.nproc`` processes started by
``torchrun`` (:func:`launch`), one model replica each (DDP broadcasts rank 0's weights and
buffers), every rank draws a disjoint shard of the same seeded global batch, and DDP averages the
gradients over ranks in every backward, so a step's update is the one-process update of the
global batch up to floating-point reduction order. Backend: gloo on the CPU, nccl on CUDA.

What is not the one-process step (and so differs in distribution, not only in rounding): each
rank draws its own noise (latent codes, dropout) from its own seeded stream, so ``nproc: 2``
is a different random draw of the same computation, not the same draw.

A model is data-parallel unless :func:`blocker` names why not: fitted in closed form (PCA, EM),
per-rank state across steps (CycleGAN's image pools, PCD chains, BEGAN's k), a statistic over
the whole batch (minibatch discrimination, minibatch stddev), or BatchNorm on the CPU
(SyncBatchNorm, which makes batch statistics global, runs on CUDA only; there the engine
converts BatchNorm to it). Such a model trains in one process; the stage says so in one line.
Rank 0 alone writes checkpoints and outputs; the checkpoint keeps every rank's RNG state.
"""

from __future__ import annotations

import os
import subprocess
import sys

import torch
import torch.distributed as dist
from torch import nn


def resolve_device(name: str) -> torch.device:
    """``train.device`` as a torch device: ``auto`` is CUDA when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from genbench.core.errors import ConfigError

        raise ConfigError("train.device = 'cuda': no CUDA device is available; use auto or cpu")
    return torch.device(name)


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world() -> int:
    return dist.get_world_size() if active() else 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def is_main() -> bool:
    return rank() == 0


def under_launcher() -> bool:
    """True in a process started by torchrun (it sets these for every worker)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``python argv...`` as ``nproc`` torchrun workers on this machine; their exit status.

    ``--standalone``: a rendezvous on a free local port, so two stages launched side by side by
    ``make repro`` or ``dvc queue start -j 2`` do not meet each other."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", *argv]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.call(cmd, env=env, preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies. torchrun starts its workers in
    sessions of their own, so a ``kill -9`` of the stage would leave them training (and rank 0
    writing outputs after DVC gave up on the stage); with this at each level they die with it."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def init(device_name: str) -> torch.device:
    """Join the process group of a torchrun worker; the worker's device (cuda:LOCAL_RANK or cpu)."""
    _die_with_parent()  # the torchrun agent
    device = resolve_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    if not active():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def close() -> None:
    if active():
        dist.barrier()
        dist.destroy_process_group()


def blocker(model: nn.Module, device: torch.device) -> str | None:
    """Why ``model`` cannot train data-parallel on ``device`` (one phrase), or None."""
    if not model.optimizer_groups():
        return "fitted in closed form, not by gradient steps"
    reason = getattr(model, "not_data_parallel", None)
    if reason:
        return reason
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if has_bn and device.type != "cuda":
        return "BatchNorm statistics would be per rank (SyncBatchNorm runs on CUDA only)"
    return None


def rank_seed(seed: int) -> int:
    """The seed of this rank's random stream: ``seed`` on rank 0 (a one-process run keeps its
    stream), distinct streams on the others so their noise is not a copy of rank 0's."""
    return seed + 1_000_003 * rank()


def shard(idx: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous part of the global batch's indices (B,) -> (B / world,)."""
    n = world()
    if n == 1:
        return idx
    per = idx.shape[0] // n
    return idx[rank() * per:(rank() + 1) * per]


class _Losses(nn.Module):
    """The model's ``losses(batch, group)`` as a forward, which DDP needs to see."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch, group: str) -> dict[str, torch.Tensor]:
        return self.model.losses(batch, group)


def wrap(model: nn.Module, device: torch.device, groups: int = 1):
    """``model.losses`` behind DistributedDataParallel (BatchNorm -> SyncBatchNorm on CUDA).

    ``find_unused_parameters`` with several optimizer groups: a step of one group (D) does not
    touch the others' parameters (G), which the engine freezes for it."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    if device.type == "cuda":
        nn.SyncBatchNorm.convert_sync_batchnorm(model)  # children replaced in place
    ids = [device.index] if device.type == "cuda" else None
    return DDP(_Losses(model), device_ids=ids, find_unused_parameters=groups > 1)


def mean_over_ranks(values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each value averaged over ranks (one all-reduce; keys are the same on every rank)."""
    if world() == 1 or not values:
        return values
    keys = sorted(values)
    t = torch.stack([torch.as_tensor(values[k], dtype=torch.float32).reshape(())
                     for k in keys])
    dist.all_reduce(t)
    t /= world()
    return {k: t[i] for i, k in enumerate(keys)}


def gather(obj) -> list:
    """``obj`` of every rank, in rank order, on every rank."""
    if world() == 1:
        return [obj]
    out = [None] * world()
    dist.all_gather_object(out, obj)
    return out
