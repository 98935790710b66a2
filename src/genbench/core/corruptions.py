"""Input corruptions q(x̃|x) of the denoising autoencoder (Bios 740 "Denoising Autoencoders":
Gaussian noise, masking, salt-and-pepper), as pure functions picked by name. Inputs are images
in [0, 1]; ``level`` is σ for Gaussian noise and the fraction of affected pixels otherwise."""

from __future__ import annotations

import torch


def gaussian(x: torch.Tensor, level: float) -> torch.Tensor:
    """x̃ = x + N(0, σ²I)."""
    return x + level * torch.randn_like(x)


def masking(x: torch.Tensor, level: float) -> torch.Tensor:
    """Each pixel set to 0 with probability ``level``."""
    return x * (torch.rand_like(x) >= level)


def salt_pepper(x: torch.Tensor, level: float) -> torch.Tensor:
    """Each pixel, with probability ``level``, replaced by 0 or 1 (equally likely)."""
    hit = torch.rand_like(x) < level
    salt = (torch.rand_like(x) < 0.5).to(x.dtype)
    return torch.where(hit, salt, x)


def none(x: torch.Tensor, level: float) -> torch.Tensor:
    return x


CORRUPTIONS = {"none": none, "gaussian": gaussian, "masking": masking, "salt_pepper": salt_pepper}
