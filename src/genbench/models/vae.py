"""Variational autoencoder (Kingma & Welling 2014; seed 001 appendix, seed 004 "Code: Vanilla VAE").

MLP encoder predicting the mean and log-variance of q(h|x), the reparameterisation
``h = μ + σ ⊙ ε``, a Bernoulli decoder on binarised pixels (or a Gaussian one with a learned
per-pixel variance on [0,1] pixels), loss = -ELBO = reconstruction NLL + β·KL (β = 1 is the VAE,
β > 1 the β-VAE). The test likelihood is the importance-weighted bound with ``iwae_k`` samples
(Burda et al. 2016), which is ≥ the ELBO and tends to log p(x) as k grows.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from genbench import losses as L
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.nn import mlp
from genbench.registry import register


@register("vae")
class VAE(GenerativeModel):
    class Config(TrainableConfig):
        kind: Literal["vae"] = "vae"
        latent_dim: int = Field(ge=1)
        hidden: list[int] = Field(min_length=1)
        decoder: Literal["bernoulli", "gaussian"] = "bernoulli"
        beta: float = Field(default=1.0, ge=0)
        lr: float = Field(gt=0)
        iwae_k: int = Field(default=64, ge=1)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        h = list(cfg.hidden)
        self.encoder = mlp([self.dim, *h, 2 * cfg.latent_dim])  # -> (μ, log σ²)
        self.decoder = mlp([cfg.latent_dim, *reversed(h), self.dim])  # -> logits or means
        if cfg.decoder == "gaussian":
            self.log_var_x = nn.Parameter(torch.full((self.dim,), -3.0))  # per-pixel log σ²

    @property
    def likelihood(self) -> str:
        return f"lower bound (IWAE, k={self.cfg.iwae_k})"

    @property
    def input_transform(self) -> str:
        return "binary_dynamic" if self.cfg.decoder == "bernoulli" else "unit"

    def optimizer_groups(self):
        return {"vae": OptimGroup(list(self.parameters()), lr=self.cfg.lr)}

    def encode_dist(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encoder(x.flatten(1)).chunk(2, dim=1)  # (B, J) each
        return mu, log_var.clamp(-12, 8)  # keeps exp() finite early in training

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, J), the posterior mean
        return self.encode_dist(x)[0]

    def decode(self, h: torch.Tensor) -> torch.Tensor:  # (B, J) -> (B, C, H, W) pixel means
        out = self.decoder(h)
        out = torch.sigmoid(out) if self.cfg.decoder == "bernoulli" else out
        return out.view(-1, *self.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def rec_nll(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|h) per image. h (..., B, J), x (B, C, H, W) -> (..., B)"""
        out = self.decoder(h)  # (..., B, D)
        xf = x.flatten(1).expand_as(out)
        if self.cfg.decoder == "bernoulli":
            return nn.functional.binary_cross_entropy_with_logits(out, xf, reduction="none").sum(-1)
        lv = self.log_var_x
        return 0.5 * (math.log(2 * math.pi) + lv + (xf - out).pow(2) * torch.exp(-lv)).sum(-1)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        mu, log_var = self.encode_dist(batch.x)
        h = mu + torch.randn_like(mu) * (0.5 * log_var).exp()  # reparameterisation
        rec = self.rec_nll(h, batch.x).mean()
        kl = L.kl_std_normal(mu, log_var).mean()
        return {"loss": rec + self.cfg.beta * kl, "rec": rec.detach(), "kl": kl.detach()}

    def _sample(self, n, generator):
        return self.decode(self.randn(n, self.cfg.latent_dim, generator=generator))

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """Single-sample ELBO per image (β = 1). (B, C, H, W) -> (B,)"""
        mu, log_var = self.encode_dist(x)
        h = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
        return -(self.rec_nll(h, x) + L.kl_std_normal(mu, log_var))

    def log_likelihood(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """IWAE bound log (1/k) Σ p(x, h_i) / q(h_i|x), h_i ~ q(h|x). (B, C, H, W) -> (B,)"""
        k = k or self.cfg.iwae_k
        mu, log_var = self.encode_dist(x)
        out = []
        for chunk in torch.arange(k).split(256):  # bounds memory: (chunk, B, J) at a time
            h = mu + torch.randn(len(chunk), *mu.shape, device=mu.device) * (0.5 * log_var).exp()
            log_w = (-self.rec_nll(h, x) + L.log_normal_std(h)
                     - L.log_normal_diag(h, mu, log_var))  # (chunk, B)
            out.append(log_w)
        return torch.logsumexp(torch.cat(out), dim=0) - math.log(k)

    def test_metrics(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().test_metrics(x)
        out["elbo"] = self.elbo(x)
        return out
