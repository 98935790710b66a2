"""What PixelCNN and PixelRNN share (not a model itself): the exact likelihood of a causal net's
logits, the training loss, and sampling in raster order (seed 004 "Fully visible belief
network": p(x) = Π_i p(x_i | x_<i), each factor exact, so log p(x) is a sum of per-pixel terms).

Outputs: ``bernoulli`` (one logit per sub-pixel, binarised data) or ``categorical`` (256-way
softmax per sub-pixel on 8-bit data, van den Oord et al. 2016a §5.1). A subclass builds
``self.net`` (a :class:`genbench.nn.autoregressive.CausalNet`).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genbench.core.errors import ConfigError
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.nn.autoregressive import raster


class AutoregressiveConfig(TrainableConfig):
    output: Literal["bernoulli", "categorical"] = "bernoulli"
    hidden: int = Field(ge=1)  # feature channels (a multiple of the image channels)
    layers: int = Field(ge=1)
    lr: float = Field(gt=0)
    #: samples shown as each pixel's probability given the sampled past (a Bernoulli output's
    #: mean image, as the VAE shows its decoder's means) instead of the 0/1 draws
    sample_mean: bool = False
    #: samples drawn by the sample stage (at most budget.n_samples; null = budget.n_samples):
    #: autoregressive sampling is sequential, so its count has its own bound
    n_samples: int | None = Field(default=1000, ge=1)


class AutoregressiveModel(GenerativeModel):
    family = "Autoregressive models"
    likelihood = "exact"

    def __init__(self, cfg: AutoregressiveConfig, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.levels = 1 if cfg.output == "bernoulli" else 256  # K logits per sub-pixel
        if cfg.hidden % self.shape[0]:
            raise ConfigError(f"hidden = {cfg.hidden}: must be a multiple of the image's "
                              f"{self.shape[0]} channels (one colour group per channel)")

    @property
    def input_transform(self) -> str:
        return "binary_dynamic" if self.cfg.output == "bernoulli" else "unit"

    @property
    def likelihood_pixels(self) -> str:
        return "binary" if self.cfg.output == "bernoulli" else "8-bit"

    def optimizer_groups(self):
        return {"net": OptimGroup(list(self.parameters()), lr=self.cfg.lr)}

    def _net_input(self, x: torch.Tensor) -> torch.Tensor:
        # 8-bit values centred to [-1, 1]; binary pixels as they are
        return x if self.levels == 1 else 2 * x - 1

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in model space -> (B, K, C, H, W)."""
        out = self.net(self._net_input(x))  # (B, K·C, H, W), channel k·C + c
        return out.view(len(x), self.levels, *self.shape)

    def nll(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,) nats per image
        logits = self.logits(x)
        if self.levels == 1:
            per = F.binary_cross_entropy_with_logits(logits[:, 0], x, reduction="none")
        else:
            per = F.cross_entropy(logits, (x * 255).round().long(), reduction="none")
        return per.flatten(1).sum(1)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        nll = self.nll(batch.x).mean()
        return {"loss": nll, "nll": nll.detach()}

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        return -self.nll(x)

    def _sample(self, n, generator, labels=None):
        draws = torch.zeros(n, *self.shape, device=self.device)
        means = torch.zeros_like(draws)

        def choose(logits: torch.Tensor, i: int, j: int, c: int) -> torch.Tensor:  # (n, K)
            u = torch.rand(n, generator=generator).to(self.device)  # CPU draws: any device
            if self.levels == 1:
                means[:, c, i, j] = torch.sigmoid(logits[:, 0])
                draws[:, c, i, j] = (u < means[:, c, i, j]).float()
            else:
                cdf = logits.softmax(1).cumsum(1)
                k = (cdf < u[:, None]).sum(1).clamp(max=255)  # inverse-CDF draw
                draws[:, c, i, j] = means[:, c, i, j] = k.float() / 255
            return self._net_input(draws[:, c, i, j])

        raster(self.net, self.shape, n, choose, self.device, torch.float32)
        return means if self.cfg.sample_mean else draws
