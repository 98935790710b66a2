"""Differentiable augmentation of a discriminator's inputs (DiffAugment: Zhao et al. 2020,
"Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS; their official
``DiffAugment_pytorch.py`` defines the policies followed here).

With few training images (mnist5k: 4,000) a discriminator memorises the real set and its
gradients stop helping the generator. DiffAugment applies the *same kind* of random,
differentiable transformation to every image D sees — real and generated, in D's steps and in
G's — so D cannot memorise the exact pixels, while the generator still receives gradients
through the transformation (it is differentiable in the image).

Policies (each drawn independently per image):

- ``translation``: shift by up to ``ratio`` · size pixels (1/8 in the paper: ±4 px at 28×28)
  in x and y, the uncovered border filled with the background;
- ``cutout``: a square of ``ratio`` · size (1/2 in the paper) at a random centre set to the
  background.

Changed from the official code: the fill is the image's background value (``-1`` for images
in [-1, 1]), not 0 — 0 is mid-grey there, a colour MNIST digits never have.
"""

from __future__ import annotations

import torch

#: policy name -> its ratio in the paper's code
RATIOS = {"translation": 0.125, "cutout": 0.5}


def _grid(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b, _, h, w = x.shape
    return torch.meshgrid(torch.arange(b, device=x.device), torch.arange(h, device=x.device),
                          torch.arange(w, device=x.device), indexing="ij")  # each (B, H, W)


def translation(x: torch.Tensor, background: float, ratio: float = RATIOS["translation"]
                ) -> torch.Tensor:
    """Each image shifted by an integer (dy, dx) in [-s, s]², s = round(ratio · size);
    uncovered pixels take ``background``. (B, C, H, W) -> (B, C, H, W)"""
    b, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
    gb, gy, gx = _grid(x)
    # source pixel of each output pixel in the 1-pixel background-padded image
    sy_idx = (gy + dy + 1).clamp(0, h + 1)
    sx_idx = (gx + dx + 1).clamp(0, w + 1)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), value=background)  # (B, C, H+2, W+2)
    return padded.permute(0, 2, 3, 1)[gb, sy_idx, sx_idx].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, background: float, ratio: float = RATIOS["cutout"]) -> torch.Tensor:
    """Each image with a square of round(ratio · size) pixels, centred at a random place
    (partly outside the image allowed), set to ``background``. (B, C, H, W)"""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    _, gy, gx = _grid(x)
    u, v = gy - oy + ch // 2, gx - ox + cw // 2  # position inside the square (B, H, W)
    inside = (u >= 0) & (u < ch) & (v >= 0) & (v < cw)
    return torch.where(inside[:, None], torch.full_like(x, background), x)


POLICIES = {"translation": translation, "cutout": cutout}


def diff_augment(x: torch.Tensor, policy: list[str], background: float) -> torch.Tensor:
    """``x`` through each policy in order (global RNG: part of the training stream)."""
    for name in policy:
        x = POLICIES[name](x, background)
    return x
