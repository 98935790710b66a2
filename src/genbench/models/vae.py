"""Variational autoencoder (Kingma & Welling 2014; seed 001 appendix, seed 004 "Code: Vanilla VAE"),
its convolutional form (``arch: conv``, seed 000 "Convolutional VAE") and the conditional VAE
(``conditional: true``, Sohn et al. 2015, seed 000 "Conditional VAE": the one-hot label is an
input of the encoder and of the decoder, so samples can be drawn per class).

Encoder predicting the mean and log-variance of q(h|x), the reparameterisation
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

from genbench.core import losses as L
from genbench.core.config import Units
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.models.registry import register
from genbench.nn import ConvDecoder, ConvEncoder, mlp


@register("vae")
class VAE(GenerativeModel):
    family = "Variational and adversarial autoencoders"
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: mlp fp32: bf16 gave vae2d FID 746 vs 694 / 621 / 656 (seeds 0-2), above all; vae itself
    #: NLL 103.57 vs 102.78 / 103.88 / 104.35, FID 386 vs 410 / 416 / 414. conv bf16: NLL 101.03
    #: vs 101.15 (seeds sd 0.21)
    cpu_precision = {"mlp": "fp32", "conv": "bf16"}

    class Config(TrainableConfig):
        kind: Literal["vae"] = "vae"
        arch: Literal["mlp", "conv"] = "mlp"
        conditional: bool = False
        latent_dim: int = Field(ge=1)
        hidden: list[Units] = Field(default=[512, 256], min_length=1)  # mlp layer sizes
        width: int = Field(default=32, ge=4)  # conv channels
        decoder: Literal["bernoulli", "gaussian"] = "bernoulli"
        beta: float = Field(default=1.0, ge=0)
        lr: float = Field(gt=0)
        iwae_k: int = Field(default=5000, ge=1)
        # test images the IWAE bound is computed on (the first ones; null = the whole split):
        # k = 5000 on every image would cost minutes
        iwae_images: int | None = Field(default=None, ge=1)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.conditional = cfg.conditional
        k = num_classes if cfg.conditional else 0  # one-hot label width
        j = cfg.latent_dim
        if cfg.arch == "mlp":
            h = list(cfg.hidden)
            self.encoder = mlp([self.dim + k, *h, 2 * j])  # -> (μ, log σ²)
            self.decoder = mlp([j + k, *reversed(h), self.dim])  # -> logits or means
        else:
            self.encoder = ConvEncoder(self.shape, cfg.width, 2 * j, extra=k)
            self.decoder = ConvDecoder(j + k, self.shape, cfg.width)
        if cfg.decoder == "gaussian":
            self.log_var_x = nn.Parameter(torch.full((self.dim,), -3.0))  # per-pixel log σ²

    @property
    def likelihood_images(self) -> int | None:
        return self.cfg.iwae_images

    @property
    def likelihood(self) -> str:
        # the conditional VAE bounds log p(x | y): not comparable with unconditional NLLs
        of = "log p(x|y) " if self.cfg.conditional else ""
        return f"{of}lower bound (IWAE, k={self.cfg.iwae_k})"

    @property
    def input_transform(self) -> str:
        return "binary_dynamic" if self.cfg.decoder == "bernoulli" else "unit"

    def optimizer_groups(self):
        return {"vae": OptimGroup(list(self.parameters()), lr=self.cfg.lr)}

    def _onehot(self, y: torch.Tensor | None) -> torch.Tensor | None:
        if not self.conditional:
            return None
        if y is None:
            raise ValueError("a conditional VAE needs the class labels")
        return nn.functional.one_hot(y, self.num_classes).float()

    def encode_dist(self, x: torch.Tensor, y: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        c = self._onehot(y)
        if self.cfg.arch == "mlp":
            xf = x.flatten(1)
            out = self.encoder(xf if c is None else torch.cat([xf, c], 1))
        else:
            out = self.encoder(x, c)
        mu, log_var = out.chunk(2, dim=1)  # (B, J) each
        return mu, log_var.clamp(-12, 8)  # keeps exp() finite early in training

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, H, W) -> (B, J), the posterior mean."""
        return self.encode_dist(x, y)[0]

    def _decoder_out(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder pre-activations flattened. h (..., B, J) -> (..., B, D)"""
        c = self._onehot(y)
        if c is not None:
            h = torch.cat([h, c.expand(*h.shape[:-1], c.shape[-1])], -1)
        if self.cfg.arch == "mlp":
            return self.decoder(h)
        lead = h.shape[:-1]
        return self.decoder(h.reshape(-1, h.shape[-1])).reshape(*lead, self.dim)

    def decode(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(B, J) -> (B, C, H, W) pixel means."""
        out = self._decoder_out(h, y)
        out = torch.sigmoid(out) if self.cfg.decoder == "bernoulli" else out
        return out.view(-1, *self.shape)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, y), y)

    def rec_nll(self, h: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None
                ) -> torch.Tensor:
        """-log p(x|h) per image. h (..., B, J), x (B, C, H, W) -> (..., B)"""
        out = self._decoder_out(h, y)  # (..., B, D)
        xf = x.flatten(1).expand_as(out)
        if self.cfg.decoder == "bernoulli":
            return nn.functional.binary_cross_entropy_with_logits(out, xf, reduction="none").sum(-1)
        lv = self.log_var_x
        return 0.5 * (math.log(2 * math.pi) + lv + (xf - out).pow(2) * torch.exp(-lv)).sum(-1)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        y = batch.y if self.conditional else None
        mu, log_var = self.encode_dist(batch.x, y)
        h = mu + torch.randn_like(mu) * (0.5 * log_var).exp()  # reparameterisation
        rec = self.rec_nll(h, batch.x, y).mean()
        kl = L.kl_std_normal(mu, log_var).mean()
        return {"loss": rec + self.cfg.beta * kl, "rec": rec.detach(), "kl": kl.detach()}

    def _sample(self, n, generator, labels=None):
        return self.decode(self.randn(n, self.cfg.latent_dim, generator=generator), labels)

    def elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Single-sample ELBO per image (β = 1). (B, C, H, W) -> (B,)"""
        mu, log_var = self.encode_dist(x, y)
        h = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
        return -(self.rec_nll(h, x, y) + L.kl_std_normal(mu, log_var))

    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None = None,
                       k: int | None = None) -> torch.Tensor:
        """IWAE bound log (1/k) Σ p(x, h_i) / q(h_i|x), h_i ~ q(h|x). (B, C, H, W) -> (B,)
        For the conditional VAE it bounds log p(x | y)."""
        k = k or self.cfg.iwae_k
        mu, log_var = self.encode_dist(x, y)
        out = []
        for chunk in torch.arange(k).split(256):  # bounds memory: (chunk, B, J) at a time
            h = mu + torch.randn(len(chunk), *mu.shape, device=mu.device) * (0.5 * log_var).exp()
            # decode 8 samples at a time: the (8, B, D) logits stay in cache and the allocator
            # reuses them (a (256, B, D) block page-faults every chunk); same bits, 1.4x faster
            rec = torch.cat([self.rec_nll(hs, x, y) for hs in h.split(8)])  # (chunk, B)
            log_w = rec.neg() + L.log_normal_std(h) - L.log_normal_diag(h, mu, log_var)
            out.append(log_w)
        return torch.logsumexp(torch.cat(out), dim=0) - math.log(k)

    def test_metrics(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().test_metrics(x, y)
        out["elbo"] = self.elbo(x, y if self.conditional else None)  # on the whole test split
        return out
