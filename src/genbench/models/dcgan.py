"""DCGAN (Radford et al. 2016; seed 000 "DCGAN", seed 004 "DCGAN" code and "Optimizers in GANs").

Transposed-convolution generator with BatchNorm + ReLU and a tanh output, convolutional
discriminator with LeakyReLU(0.2), Adam with β1 = 0.5. The GAN loss is picked by name from
:data:`genbench.losses.GAN_LOSSES` (default: non-saturating), ``d_steps`` discriminator updates
per generator update.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from genbench.losses import GAN_LOSSES
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.nn import DCGANDiscriminator, DCGANGenerator
from genbench.registry import register


@register("dcgan")
class DCGAN(GenerativeModel):
    class Config(TrainableConfig):
        kind: Literal["dcgan"] = "dcgan"
        z_dim: int = Field(ge=1)
        width: int = Field(ge=4)
        loss: Literal[tuple(GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        lr_gen: float = Field(gt=0)
        lr_disc: float = Field(gt=0)
        beta1: float = Field(default=0.5, ge=0, lt=1)
        d_steps: int = Field(default=1, ge=1)
        d_dropout: float = Field(default=0.0, ge=0, lt=1)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.gen = DCGANGenerator(cfg.z_dim, self.shape, cfg.width)
        self.disc = DCGANDiscriminator(self.shape, cfg.width, cfg.d_dropout)
        self.d_loss, self.g_loss = GAN_LOSSES[cfg.loss]

    @property
    def input_transform(self) -> str:
        return "symmetric"  # tanh output range

    def optimizer_groups(self):
        betas = (self.cfg.beta1, 0.999)
        return {"disc": OptimGroup(list(self.disc.parameters()), self.cfg.lr_disc, betas,
                                   steps=self.cfg.d_steps),
                "gen": OptimGroup(list(self.gen.parameters()), self.cfg.lr_gen, betas)}

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        z = torch.randn(len(batch.x), self.cfg.z_dim, device=batch.x.device)
        if group == "disc":
            fake = self.gen(z).detach()
            real_logit, fake_logit = self.disc(batch.x), self.disc(fake)
            # D accuracy on real/fake: a perfect generator leaves it at 50%
            acc = 0.5 * ((real_logit > 0).float().mean() + (fake_logit < 0).float().mean())
            return {"loss": self.d_loss(real_logit, fake_logit), "acc": acc.detach()}
        return {"loss": self.g_loss(self.disc(self.gen(z)))}

    def _sample(self, n, generator, labels=None):
        return (self.gen(self.randn(n, self.cfg.z_dim, generator=generator)) + 1) / 2
