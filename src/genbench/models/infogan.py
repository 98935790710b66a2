"""InfoGAN (Chen et al. 2016; seed 003 "InfoGAN" among the GAN variants): the generator gets,
besides noise z, a categorical code c ~ Cat(K) and continuous codes u ~ U(-1, 1); an auxiliary
head Q on the discriminator's features predicts the codes from G(z, c, u), and both players
maximise the variational lower bound of the mutual information I(c, u; G(z, c, u)):
λ_cat · CE(Q_cat, c) + λ_cont · ½‖Q_mean − u‖². Unsupervised: the categorical code tends to pick
up the digit class; samples are drawn per code value, and the evaluator judges how well codes map
to classes (the best one-to-one code→class matching).
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genbench.core import losses as L
from genbench.core.config import Units
from genbench.models.base import Batch
from genbench.models.registry import register
from genbench.models.two_player import AveragedConfig, TwoPlayerConfig, TwoPlayerGAN
from genbench.nn.gan import Discriminator, Generator


@register("infogan")
class InfoGAN(TwoPlayerGAN):
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: conv bf16: FID 397 vs 407, code purity 0.395 vs 0.376; mlp not measured
    cpu_precision = {"mlp": "fp32", "conv": "bf16"}

    class Config(TwoPlayerConfig, AveragedConfig):
        kind: Literal["infogan"] = "infogan"
        arch: Literal["mlp", "conv"] = "conv"
        z_dim: int = Field(ge=1)
        categories: int = Field(default=10, ge=2)  # K of the categorical code
        continuous: int = Field(default=2, ge=0)  # continuous codes
        width: int = Field(default=32, ge=4)
        hidden: list[Units] = Field(default=[256, 512], min_length=1)
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        lambda_cat: float = Field(default=1.0, ge=0)
        lambda_cont: float = Field(default=0.1, ge=0)
        d_dropout: float = Field(default=0.0, ge=0, lt=1)

    conditional = True  # sampled per value of the categorical code
    #: the code space of :meth:`latent` holds the categorical code itself: no label needed
    generate_uses_labels = False
    #: the "labels" are code values, not classes: judged after a code→class matching
    labels_are_codes: ClassVar[bool] = True

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        codes = cfg.categories + cfg.continuous
        self.gen = Generator(cfg.arch, cfg.z_dim, self.shape, cfg.width, list(cfg.hidden), "tanh",
                             extra=codes)
        self.disc = Discriminator(cfg.arch, self.shape, cfg.width, list(cfg.hidden),
                                  dropout=cfg.d_dropout)
        feat = self.disc.head.in_features
        self.q = nn.Sequential(nn.Linear(feat, 128), nn.LeakyReLU(0.2, True),
                               nn.Linear(128, codes))  # (N, K + continuous)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]
        self.average(self.gen)

    def on_step_end(self, group: str) -> None:
        if group == "gen":
            self.update_average(self.gen)

    def sample_labels(self, n: int) -> torch.Tensor:
        return torch.arange(n) % self.cfg.categories

    def players(self):
        # Q shares D's trunk; its head steps with D (on detached fakes) as in Chen et al.
        return [*self.disc.parameters(), *self.q.parameters()], list(self.gen.parameters())

    def _codes(self, n: int, device, c: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor,
                                                                  torch.Tensor]:
        """(categorical (n,), continuous (n, U), the generator's code input (n, K + U))."""
        k, u = self.cfg.categories, self.cfg.continuous
        if c is None:
            c = torch.randint(k, (n,), generator=generator).to(device)
        cont = (torch.rand(n, u, generator=generator) * 2 - 1).to(device)
        return c, cont, torch.cat([F.one_hot(c, k).float(), cont], 1)

    def _info_loss(self, feats: torch.Tensor, c: torch.Tensor, cont: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """-(lower bound of the mutual information) up to constants, and Q's code accuracy."""
        q = self.q(feats)
        k = self.cfg.categories
        ce = F.cross_entropy(q[:, :k], c)
        mse = 0.5 * (q[:, k:] - cont).pow(2).sum(1).mean() if self.cfg.continuous else ce * 0
        acc = (q[:, :k].argmax(1) == c).float().mean().detach()
        return self.cfg.lambda_cat * ce + self.cfg.lambda_cont * mse, acc

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        n, dev = len(batch.x), batch.x.device
        z = torch.randn(n, self.cfg.z_dim, device=dev)
        c, cont, code = self._codes(n, dev)
        if group == "disc":
            fake = self.gen(z, code).detach()
            real_logit = self.disc(batch.x)[0]
            fake_logit, feats = self.disc(fake)
            info, acc = self._info_loss(feats, c, cont)
            adv = self.d_loss(real_logit, fake_logit)
            return {"loss": adv + info, "adv": adv.detach(), "info": info.detach(),
                    "q_acc": acc, "acc_real": (real_logit > 0).float().mean().detach(),
                    "acc_fake": (fake_logit < 0).float().mean().detach()}
        fake_logit, feats = self.disc(self.gen(z, code))
        info, acc = self._info_loss(feats, c, cont)
        adv = self.g_loss(fake_logit)
        return {"loss": adv + info, "adv": adv.detach(), "info": info.detach()}

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` prior draws of the generator's whole input, (z, one-hot c, continuous codes)
        (n, z_dim + K + U): the code space of the arithmetic analysis."""
        z = self.randn(n, self.cfg.z_dim, generator=generator)
        return torch.cat([z, self._codes(n, self.device, None, generator)[2]], 1)

    def generate(self, h: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(h) for h from :meth:`latent` (labels unused: c is part of h). (n, C, H, W) [0, 1]"""
        k = self.cfg.z_dim
        return (self.averaged(self.gen)(h[:, :k], h[:, k:]) + 1) / 2

    def _sample(self, n, generator, labels=None):
        z = self.randn(n, self.cfg.z_dim, generator=generator)
        _, _, code = self._codes(n, self.device, labels, generator)
        return (self.averaged(self.gen)(z, code) + 1) / 2
