"""BEGAN, boundary equilibrium GAN (Berthelot et al. 2017; seed 004's loss-variant table): the
discriminator is an autoencoder and judges by its reconstruction loss L(v) = mean |v − D(v)|^η
(the paper's η ∈ {1, 2}).

    L_D = L(x) − k_t · L(G(z)),   L_G = L(G(z)),
    k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z))), 0, 1),

γ = E L(G(z)) / E L(x) sets the diversity the equilibrium aims at. The convergence measure
M = L(x) + |γ L(x) − L(G(z))| falls as training converges; it is logged and reported.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from genbench.models.base import Batch
from genbench.models.registry import register
from genbench.models.two_player import AveragedConfig, TwoPlayerConfig, TwoPlayerGAN
from genbench.nn import ConvDecoder, ConvEncoder
from genbench.nn.gan import Generator


@register("began")
class BEGAN(TwoPlayerGAN):
    #: why DDP does not apply (genbench.core.distributed.blocker): trains in one process
    not_data_parallel = "its equilibrium control k follows each rank's batch"

    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: FID 1056 vs 1126
    cpu_precision = "bf16"

    class Config(TwoPlayerConfig, AveragedConfig):
        kind: Literal["began"] = "began"
        z_dim: int = Field(ge=1)
        width: int = Field(default=32, ge=4)
        code_dim: int = Field(default=32, ge=1)  # the discriminator autoencoder's code
        gamma: float = Field(default=1.0, gt=0, le=1)
        lambda_k: float = Field(default=0.05, gt=0)
        eta: Literal[1, 2] = 2  # the power of the reconstruction error

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.gen = Generator("conv", cfg.z_dim, self.shape, cfg.width, [], "tanh")
        self.disc = nn.ModuleDict({"enc": ConvEncoder(self.shape, cfg.width, cfg.code_dim),
                                   "dec": ConvDecoder(cfg.code_dim, self.shape, cfg.width)})
        self.register_buffer("k", torch.zeros(()))  # k_t, the equilibrium control variable
        self.register_buffer("_balance", torch.zeros(()))  # γ L(x) − L(G(z)) of the last D step
        self.average(self.gen)

    def recon_loss(self, v: torch.Tensor) -> torch.Tensor:
        """L(v) = mean |v − D(v)|^η per image. (N, C, H, W) -> (N,)"""
        rec = torch.tanh(self.disc["dec"](self.disc["enc"](v)))
        return (v - rec).abs().pow(self.cfg.eta).flatten(1).mean(1)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        z = torch.randn(len(batch.x), self.cfg.z_dim, device=batch.x.device)
        if group == "gen":
            return {"loss": self.recon_loss(self.gen(z)).mean()}
        l_real = self.recon_loss(batch.x).mean()
        l_fake = self.recon_loss(self.gen(z).detach()).mean()
        balance = (self.cfg.gamma * l_real - l_fake).detach()
        self._balance.copy_(balance)
        return {"loss": l_real - self.k * l_fake, "l_real": l_real.detach(),
                "l_fake": l_fake.detach(), "k": self.k.clone(),
                "convergence": l_real.detach() + balance.abs()}  # M

    def on_step_end(self, group: str) -> None:
        if group == "disc":  # proportional control of k_t, no host sync
            self.k.add_(self.cfg.lambda_k * self._balance).clamp_(0, 1)
        else:
            self.update_average(self.gen)

    def _sample(self, n, generator, labels=None):
        return (self.averaged(self.gen)(self.randn(n, self.cfg.z_dim, generator=generator)) + 1) / 2
