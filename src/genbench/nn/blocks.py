"""Building blocks shared by the model zoo."""

from __future__ import annotations

from math import prod

import torch
from torch import nn


def mlp(sizes: list[int], act: type[nn.Module] = nn.ReLU, out_act: nn.Module | None = None
        ) -> nn.Sequential:
    """Linear layers ``sizes[0] -> ... -> sizes[-1]`` with ``act`` between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    if out_act is not None:
        layers.append(out_act)
    return nn.Sequential(*layers)


def _check_divisible(shape: tuple[int, int, int]) -> None:
    _, h, w = shape
    if h % 4 or w % 4:
        raise ValueError(f"DCGAN nets need H and W divisible by 4, got {h}x{w}")


class DCGANGenerator(nn.Module):
    """z -> (C, H, W) in [-1, 1]: a linear projection to (2w, H/4, W/4), then two stride-2
    transposed convolutions with BatchNorm + ReLU and a tanh output (Radford et al. 2016;
    seed 000 'DCGAN: Generator', seed 004's DCGAN code)."""

    def __init__(self, z_dim: int, shape: tuple[int, int, int], width: int = 64):
        super().__init__()
        _check_divisible(shape)
        c, h, w = shape
        self.start = (2 * width, h // 4, w // 4)
        self.project = nn.Sequential(nn.Linear(z_dim, prod(self.start), bias=False),
                                     nn.BatchNorm1d(prod(self.start)), nn.ReLU(True))
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),  # (B, w, H/2, W/2)
            nn.BatchNorm2d(width), nn.ReLU(True),
            nn.ConvTranspose2d(width, c, 4, 2, 1),  # (B, C, H, W)
            nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z_dim) -> (B, C, H, W)
        return self.body(self.project(z).view(-1, *self.start))


class DCGANDiscriminator(nn.Module):
    """(C, H, W) -> one logit: stride-2 convolutions with LeakyReLU(0.2), BatchNorm on the
    second, no pooling (Radford et al. 2016). ``dropout`` > 0 adds dropout after each
    activation, a stabiliser against a discriminator that memorises a small training set."""

    def __init__(self, shape: tuple[int, int, int], width: int = 64, dropout: float = 0.0):
        super().__init__()
        _check_divisible(shape)
        c, h, w = shape
        self.features = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # (B, w, H/2, W/2)
            nn.Dropout(dropout),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),  # (B, 2w, H/4, W/4)
            nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True), nn.Dropout(dropout),
            nn.Flatten())
        self.head = nn.Linear(2 * width * (h // 4) * (w // 4), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,)
        return self.head(self.features(x)).squeeze(1)


class ConvEncoder(nn.Module):
    """(C, H, W) -> (out_dim,): two stride-2 convolutions with ReLU and a linear head; the
    convolutional encoder of the conv autoencoder and the conv VAE (seeds 000/001/002).
    ``extra`` inputs (e.g. a one-hot label) join the flattened features before the head."""

    def __init__(self, shape: tuple[int, int, int], width: int, out_dim: int, extra: int = 0):
        super().__init__()
        _check_divisible(shape)
        c, h, w = shape
        self.features = nn.Sequential(
            nn.Conv2d(c, width, 4, 2, 1), nn.ReLU(True),  # (B, w, H/2, W/2)
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(True), nn.Flatten())  # (B, 2w·H/4·W/4)
        self.head = nn.Linear(2 * width * (h // 4) * (w // 4) + extra, out_dim)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        f = self.features(x)
        return self.head(f if extra is None else torch.cat([f, extra], 1))


class ConvDecoder(nn.Module):
    """(in_dim,) -> (C, H, W) pre-activations: a linear projection to (2w, H/4, W/4) and two
    stride-2 transposed convolutions (the encoder's mirror)."""

    def __init__(self, in_dim: int, shape: tuple[int, int, int], width: int):
        super().__init__()
        _check_divisible(shape)
        c, h, w = shape
        self.start = (2 * width, h // 4, w // 4)
        self.project = nn.Sequential(nn.Linear(in_dim, prod(self.start)), nn.ReLU(True))
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(True),  # (B, w, H/2, W/2)
            nn.ConvTranspose2d(width, c, 4, 2, 1))  # (B, C, H, W)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(h).view(-1, *self.start))
