"""The autoencoder family (seed 000 "Neural Network Autoencoder", seed 001 "Denoising / Sparse /
Contractive autoencoders", seed 002 "decoder as data generator", Bios 740 "Denoising
Autoencoders"), one class whose variants are config:

- ``ae``: MLP or convolutional encoder/decoder (``arch``), squared-error or Bernoulli
  cross-entropy reconstruction (``reconstruction``);
- ``dae`` = ``corruption: gaussian | masking | salt_pepper`` with ``noise`` = σ or the fraction of
  pixels; the clean input is the target (Vincent et al. 2008);
- ``sparse_ae`` = ``penalty: l1``: weight · Σ_k |h_k|;
- ``cae`` = ``penalty: contractive``: weight · ‖∂h/∂x‖²_F, the exact Jacobian by batched autograd
  (Rifai et al. 2011); it also trains with latent_dim ≥ the input dimension.

Generation (seed 002 "decoder as data generator"): after training, a Gaussian is fitted to the
training codes; samples decode draws from it, so the AE's samples are judged like every model's.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genbench.corruptions import CORRUPTIONS
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.nn import ConvDecoder, ConvEncoder, mlp
from genbench.nn.jacobian import jacobian_frobenius_sq
from genbench.registry import register


@register("ae")
class Autoencoder(GenerativeModel):
    class Config(TrainableConfig):
        kind: Literal["ae"] = "ae"
        arch: Literal["mlp", "conv"] = "mlp"
        latent_dim: int = Field(ge=1)
        hidden: list[int] = Field(default=[512, 256], min_length=1)  # mlp layer sizes
        width: int = Field(default=32, ge=4)  # conv channels
        reconstruction: Literal["mse", "bernoulli"] = "mse"
        corruption: Literal[tuple(CORRUPTIONS)] = "none"  # type: ignore[valid-type]
        noise: float = Field(default=0.0, ge=0)  # σ (gaussian) or fraction (masking, salt_pepper)
        penalty: Literal["none", "l1", "contractive"] = "none"
        penalty_weight: float = Field(default=0.0, ge=0)
        # examples of each batch the contractive penalty is computed on (null = all): an
        # unbiased estimate of the batch mean at a fraction of the Jacobian's cost
        penalty_samples: int | None = Field(default=None, ge=1)
        lr: float = Field(gt=0)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        j = cfg.latent_dim
        if cfg.arch == "mlp":
            h = list(cfg.hidden)
            self.encoder = torch.nn.Sequential(torch.nn.Flatten(), mlp([self.dim, *h, j]))
            self.decoder = mlp([j, *reversed(h), self.dim])
        else:
            self.encoder = ConvEncoder(self.shape, cfg.width, j)
            self.decoder = ConvDecoder(j, self.shape, cfg.width)
        # the Gaussian fitted to the training codes (on_train_end): mean and Cholesky factor
        self.register_buffer("code_mean", torch.zeros(j))
        self.register_buffer("code_chol", torch.eye(j))

    def optimizer_groups(self):
        return {"ae": OptimGroup(list(self.parameters()), lr=self.cfg.lr)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, J)
        return self.encoder(x)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:  # (B, J) -> (B, C, H, W)
        return self.decoder(h).view(-1, *self.shape)

    def decode(self, h: torch.Tensor) -> torch.Tensor:  # (B, J) -> (B, C, H, W) in [0, 1]
        return torch.sigmoid(self._logits(h))  # r = σ(W'h + b') as in Bios 740

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        x_tilde = CORRUPTIONS[cfg.corruption](batch.x, cfg.noise)  # x̃ ~ q(x̃|x)
        h = self.encode(x_tilde)
        logits = self._logits(h)
        if cfg.reconstruction == "mse":  # Σ_j (x_j - x̂_j)², the cost of seed 000
            rec = (torch.sigmoid(logits) - batch.x).pow(2).flatten(1).sum(1).mean()
        else:
            rec = F.binary_cross_entropy_with_logits(logits, batch.x, reduction="none"
                                                     ).flatten(1).sum(1).mean()
        out = {"rec": rec.detach()}
        loss = rec
        if cfg.penalty == "l1":
            pen = h.abs().sum(1).mean()
        elif cfg.penalty == "contractive":  # at the encoder's input, exact Jacobian
            pen = jacobian_frobenius_sq(self.encode, x_tilde[:cfg.penalty_samples]).mean()
        else:
            pen = None
        if pen is not None:
            loss = loss + cfg.penalty_weight * pen
            out["penalty"] = pen.detach()
        out["loss"] = loss
        return out

    def on_train_end(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Fit N(mean, cov) to the codes of the clean training images."""
        h = torch.cat([self.encode(x[i:i + 1000]) for i in range(0, len(x), 1000)]).double()
        mean = h.mean(0)
        cov = torch.cov(h.T).reshape(len(mean), len(mean))
        cov = cov + 1e-6 * cov.diagonal().mean().clamp_min(1e-12) * torch.eye(len(mean),
                                                                                dtype=cov.dtype,
                                                                                device=cov.device)
        self.code_mean.copy_(mean.float())
        self.code_chol.copy_(torch.linalg.cholesky(cov).float())

    def _sample(self, n, generator, labels=None):
        z = self.randn(n, self.cfg.latent_dim, generator=generator)
        return self.decode(self.code_mean + z @ self.code_chol.T)
