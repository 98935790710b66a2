"""Interpolation between two images: a straight line in pixel space versus a straight line in
latent space decoded by the generator (seed 000, the Merkel→Macron slide). A path that stays on
the data manifold keeps the evaluator confident; the pixel path crosses blends of two digits."""

from __future__ import annotations

from typing import Callable

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


@torch.no_grad()
def paths(encode: Fn, decode: Fn, xa: torch.Tensor, xb: torch.Tensor, points: int
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel and latent paths from xa to xb (B, C, H, W): each (P, B, C, H, W), P = ``points``,
    endpoints included (the latent path's endpoints are the reconstructions)."""
    t = torch.linspace(0, 1, points, device=xa.device).view(-1, 1, 1, 1, 1)  # (P, 1, 1, 1, 1)
    pixel = (1 - t) * xa + t * xb
    ha, hb = encode(xa), encode(xb)  # (B, J)
    tl = t.view(-1, 1, 1)  # (P, 1, 1)
    h = (1 - tl) * ha + tl * hb  # (P, B, J)
    latent = decode(h.flatten(0, 1)).view(points, *xa.shape)
    return pixel, latent.clamp(0, 1)


@torch.no_grad()
def path_confidence(probs: Fn, path: torch.Tensor) -> torch.Tensor:
    """Mean max class probability at each point of a path (P, B, C, H, W) -> (P,)."""
    p = probs(path.flatten(0, 1))  # (P*B, K)
    return p.max(1).values.view(path.shape[0], -1).mean(1)


def pick_pairs(y: torch.Tensor, n: int, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                               torch.Tensor]:
    """``n`` random index pairs (a, b) of test images of different classes."""
    a = torch.randint(len(y), (4 * n,), generator=generator)
    b = torch.randint(len(y), (4 * n,), generator=generator)
    keep = y[a] != y[b]
    return a[keep][:n], b[keep][:n]
