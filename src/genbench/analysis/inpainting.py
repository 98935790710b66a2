"""Inpainting by the decoder's pseudo-inverse (seed 000): with part of x hidden, find
h* = argmin_h ‖m ⊙ (x − g(h))‖² (m = the visible pixels) by gradient descent, starting from the
encoder's guess, and fill the hidden part with g(h*). Baselines: the mean training image, and
the nearest training image on the visible pixels."""

from __future__ import annotations

from typing import Callable

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]
REGIONS = ("bottom", "top", "left", "right", "center")


def region_mask(shape: tuple[int, int, int], region: str) -> torch.Tensor:
    """(C, H, W) bool, True where the pixel is hidden."""
    c, h, w = shape
    m = torch.zeros(c, h, w, dtype=torch.bool)
    if region == "bottom":
        m[:, h // 2:, :] = True
    elif region == "top":
        m[:, :h // 2, :] = True
    elif region == "left":
        m[:, :, :w // 2] = True
    elif region == "right":
        m[:, :, w // 2:] = True
    elif region == "center":
        m[:, h // 4:h - h // 4, w // 4:w - w // 4] = True
    else:
        raise ValueError(f"unknown region {region!r}; one of {', '.join(REGIONS)}")
    return m


def inpaint(encode: Fn, decode: Fn, x: torch.Tensor, hidden: torch.Tensor, fill: torch.Tensor,
            steps: int, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (encoder-guess fill, pseudo-inverse fill), each (B, C, H, W) with the visible
    pixels of x kept. ``fill`` (C, H, W) replaces the hidden pixels at the encoder's input."""
    visible = (~hidden).to(x.dtype)  # (C, H, W)
    x_in = torch.where(hidden, fill, x)
    with torch.no_grad():
        h0 = encode(x_in)  # (B, J)
        guess = torch.where(hidden, decode(h0).view_as(x), x)
    h = h0.clone().requires_grad_(True)
    opt = torch.optim.Adam([h], lr=lr)
    for _ in range(steps):  # every image's h is independent: one batched problem
        opt.zero_grad(set_to_none=True)
        err = (visible * (x - decode(h).view_as(x))).pow(2).flatten(1).sum(1)  # (B,)
        err.sum().backward()
        opt.step()
    with torch.no_grad():
        filled = torch.where(hidden, decode(h).view_as(x), x)
    return guess, filled


def nearest_neighbour_fill(x: torch.Tensor, hidden: torch.Tensor, train: torch.Tensor
                           ) -> torch.Tensor:
    """Hidden pixels copied from the train image (N, C, H, W) closest on the visible pixels."""
    vis = (~hidden).flatten()
    d = torch.cdist(x.flatten(1)[:, vis], train.flatten(1)[:, vis])  # (B, N)
    return torch.where(hidden, train[d.argmin(1)], x)


def masked_mse(x_hat: torch.Tensor, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hidden pixels, per image. (B, C, H, W) -> (B,)"""
    h = hidden.expand_as(x)
    return ((x_hat - x).pow(2) * h).flatten(1).sum(1) / h.flatten(1).sum(1)
