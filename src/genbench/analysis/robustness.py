"""Do reconstructions survive corrupted inputs? Reconstruction MSE against the *clean* image of
test images corrupted by each of the DAE's corruptions (:mod:`genbench.core.corruptions`). A denoising
or contractive encoder should map a corrupted x̃ back near x better than a plain autoencoder."""

from __future__ import annotations

from typing import Callable

import torch

from genbench.core.corruptions import CORRUPTIONS


def corrupted_recon_mse(reconstruct: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                        corruption: str, level: float, seed: int) -> float:
    """Mean over images and pixels of (reconstruct(x̃) − x)², x̃ ~ corruption(x, level)."""
    torch.manual_seed(seed)  # the same corrupted inputs for every model
    x_tilde = CORRUPTIONS[corruption](x, level)
    with torch.no_grad():
        return float(torch.cat([(reconstruct(b) - c).pow(2).flatten(1).mean(1)
                                for b, c in zip(x_tilde.split(500), x.split(500))]).mean())
