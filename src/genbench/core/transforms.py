"""On-the-fly input transforms: the stored split stays uint8; a model sees floats of its choice.

Each transform has ``prepare`` (once per split, may precompute, e.g. a static binarisation) and
``batch`` (per minibatch, on the device). Names:

- ``unit``: x / 255 in [0, 1]
- ``symmetric``: x / 127.5 - 1 in [-1, 1] (tanh generators)
- ``binary_dynamic``: a fresh Bernoulli(x / 255) draw every batch (Salakhutdinov & Murray 2008)
- ``binary_static``: one seeded Bernoulli(x / 255) draw, fixed for the run (used for all test NLLs)
- ``raw``: float data as they are (the 2-D toys)
"""

from __future__ import annotations

import torch

STATIC_BINARISATION_SEED = 20240  # the same binarised test split for every model


def to_unit(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(255.0)


def static_binarize(x: torch.Tensor, seed: int = STATIC_BINARISATION_SEED) -> torch.Tensor:
    """(N, C, H, W) uint8 -> the same shape, uint8 in {0, 1}, one seeded draw."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    u = torch.rand(x.shape, generator=g)
    return (u < to_unit(x.cpu())).to(torch.uint8).to(x.device)


class Transform:
    name = "unit"

    def prepare(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) uint8 -> stored tensor
        return x

    def batch(self, x: torch.Tensor) -> torch.Tensor:  # stored rows -> model input (float)
        return to_unit(x)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:  # model space -> [0, 1] images
        return x.clamp(0, 1)


class Symmetric(Transform):
    name = "symmetric"

    def batch(self, x):
        return x.float().div_(127.5).sub_(1.0)

    def to_unit(self, x):
        return ((x + 1) / 2).clamp(0, 1)


class BinaryDynamic(Transform):
    name = "binary_dynamic"

    def batch(self, x):
        return torch.bernoulli(to_unit(x))


class BinaryStatic(Transform):
    name = "binary_static"

    def prepare(self, x):
        return static_binarize(x)

    def batch(self, x):
        return x.float()


class Raw(Transform):
    """Float data used as they are (the 2-D toy experiments): no scaling, no clamping."""

    name = "raw"

    def batch(self, x):
        return x.float()

    def to_unit(self, x):
        return x


TRANSFORMS = {t.name: t for t in (Transform, Symmetric, BinaryDynamic, BinaryStatic, Raw)}


def get(name: str) -> Transform:
    return TRANSFORMS[name]()


def eval_transform(name: str) -> Transform:
    """The deterministic transform used to score test data: dynamic binarisation becomes static."""
    return BinaryStatic() if name.startswith("binary") else get(name)
