"""Training precision as a measured choice (``train.precision: auto | fp32 | bf16``).

``bf16`` runs each training step's forward and backward under ``torch.autocast`` with bfloat16
(matmuls and convolutions in bf16, reductions and losses in fp32 by autocast's op lists; the
weights and the optimizer state stay fp32). Sampling and every evaluation stay fp32.

``auto`` picks per model *kind* (and architecture, where one kind has several) from
:data:`AUTO`: bf16 only where ``make bench`` measured it faster on these machines' CPUs *and*
the default run showed no metric worse than the seed noise; fp32 everywhere else, and for any
kind not in the table. On CUDA, ``auto`` is bf16 (the tensor cores), as before.

The table is data from measurements (the README's speed section has the figures); ``make
bench`` prints what this machine measures beside it, so a different CPU shows where it would
choose otherwise. Changing an entry changes that model's numbers: the train stages depend on
this file.
"""

from __future__ import annotations

from typing import Literal

import torch

Precision = Literal["fp32", "bf16"]

#: precision key (:func:`key`) -> what ``auto`` trains it in on a CPU. From `make bench` (bf16 vs
#: fp32 step time at 1 thread, AMD EPYC with AVX512-BF16: bf16 was 1.14-1.55x faster for every
#: kind) and the metric check: every model of the default run trained in bf16 against its fp32
#: run and the fp32 seed noise (seeds 0, 1, 2), all against one evaluator (README, "Speed").
#: fp32 where bf16 hurt or may hurt a metric:
AUTO: dict[str, Precision] = {
    "vae/mlp": "fp32",  # vae2d FID 746 vs 694 / 621 / 656 (seeds 0-2), above all; vae itself
    #                     NLL 103.57 vs 102.78 / 103.88 / 104.35, FID 386 vs 410 / 416 / 414
    "vae/conv": "bf16",  # NLL 101.03 vs 101.15 (seeds sd 0.21)
    "ae/mlp": "bf16",  # FID within ±25 of fp32 for all six variants (ae seeds sd 11)
    "aae": "fp32",  # bf16 FID 1447 / 600 / 571 vs 1115 / 863 / 561: aae above all 3 seeds
    #                (1115, 756, 492); aae_supervised / aae_semi share the kind
    "gan/mlp": "fp32",  # gan 352 vs 284, gan_mm 516 vs 399: both up (seeds 284/333/429)
    "gan/conv": "bf16",  # all six conv GANs within ±40 FID or better (dcgan seeds sd 33)
    "began": "bf16",  # FID 1056 vs 1126
    "infogan/conv": "bf16",  # FID 397 vs 407, code purity 0.395 vs 0.376
    "progan": "fp32",  # bf16 diverged: FID 4621 vs 594 (seeds 594/563/545)
    "rbm": "bf16",  # AIS NLL 129.8 vs 139.8 (seeds 139.8/124.0/127.0)
    "dbn": "fp32",  # bound 136.5 vs 126.7, above every fp32 seed (126.7/127.0/135.4)
    "gsn": "bf16",  # FID 1623 vs 1627
    "pixelcnn/plain": "fp32",  # NLL 98.40 vs 97.77: 5 sd of the seeds (97.77/97.47/97.62)
    "pixelcnn/gated": "bf16",  # NLL 98.02 vs 97.97
    "pixelrnn/diagonal": "bf16",  # NLL 102.42 vs 102.43
    "pixelrnn/row": "fp32",  # NLL 100.19 in the seeds (99.67 / 98.07 / 100.92) but FID 1513
    #                          above them (1215 / 1079 / 1186)
    "pix2pix": "bf16",  # L1/PSNR/SSIM/FID of the four variants equal to ±0.001/0.1 dB/0.004/6
    "srgan": "bf16",  # FID 60.5 both, PSNR 19.00 both
    "cyclegan": "bf16",  # class kept 0.598/0.817 vs 0.612/0.828, cycle L1 equal
}


def key(model) -> str:
    """The table key of a model: its kind, with the architecture where the kind has several
    (``gan/mlp`` and ``gan/conv`` run different kernels)."""
    arch = getattr(getattr(model, "cfg", None), "arch", None)
    kind = getattr(model, "kind", type(model).__name__.lower())
    return f"{kind}/{arch}" if isinstance(arch, str) else kind


def resolve(setting: str, model, device: torch.device) -> Precision:
    """The precision ``model`` trains in under ``train.precision = setting`` on ``device``."""
    if setting != "auto":
        return setting  # type: ignore[return-value]
    if device.type == "cuda":
        return "bf16"
    return AUTO.get(key(model), "fp32")


def autocast(precision: Precision, device: torch.device):
    """The context a training step's forward runs in."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
