"""Training precision as a measured choice (``train.precision: auto | fp32 | bf16``).

``bf16`` runs each training step's forward and backward under ``torch.autocast`` with bfloat16
(matmuls and convolutions in bf16, reductions and losses in fp32 by autocast's op lists; the
weights and the optimizer state stay fp32). Sampling and every evaluation stay fp32.

``auto`` picks per model kind what its class declares (``GenerativeModel.cpu_precision``, per
architecture where one kind has several): bf16 only where ``make bench`` measured it faster on
these machines' CPUs (AMD EPYC with AVX512-BF16, 1 thread: bf16 was 1.14-1.55x faster for every
kind) *and* the default run showed no metric worse than the seed noise (every model trained in
bf16 against its fp32 run and the fp32 seeds 0, 1, 2, one evaluator); fp32 everywhere else,
and for any kind that declares nothing. Each declaration carries its measurement as a comment.
On CUDA, ``auto`` is bf16 (the tensor cores).

``make bench`` prints what this machine measures beside the declared choice, so a different CPU
shows where it would choose otherwise. Changing a declaration changes that model's numbers:
the train stages depend on the model files.
"""

from __future__ import annotations

from typing import Literal

import torch

Precision = Literal["fp32", "bf16"]


def key(model) -> str:
    """A model's precision key: its kind, with the architecture where the kind has several
    (``gan/mlp`` and ``gan/conv`` run different kernels); ``make bench`` rows are per key."""
    arch = getattr(getattr(model, "cfg", None), "arch", None)
    kind = getattr(model, "kind", type(model).__name__.lower())
    return f"{kind}/{arch}" if isinstance(arch, str) else kind


def resolve(setting: str, model, device: torch.device) -> Precision:
    """The precision ``model`` trains in under ``train.precision = setting`` on ``device``."""
    if setting != "auto":
        return setting  # type: ignore[return-value]
    if device.type == "cuda":
        return "bf16"
    return auto_cpu(model)


def auto_cpu(model) -> Precision:
    """What ``auto`` trains ``model`` in on a CPU: its class's ``cpu_precision`` declaration,
    looked up by ``cfg.arch`` when it is per architecture (fp32 for one not named)."""
    declared = getattr(model, "cpu_precision", "fp32")
    if isinstance(declared, dict):
        return declared.get(getattr(getattr(model, "cfg", None), "arch", None), "fp32")
    return declared


def autocast(precision: Precision, device: torch.device):
    """The context a training step's forward runs in."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
