"""pix2pix (Isola et al. 2017; seed 004 "Pix2Pix: U-Net + PatchGAN", seed 002 "image-to-image
translation"): a U-Net generator G(x) and a PatchGAN discriminator D(x, y) on (input, image)
pairs, trained with

    L = L_cGAN(G, D) + λ · E‖y − G(x)‖₁        (λ = ``l1_weight``, 100 in the paper)

The L1 term gets the low frequencies right, the patch discriminator the sharp local detail.
Dropout in the decoder (on at test time too) is the only noise. ``adv_weight: 0`` drops the
discriminator: the plain U-Net trained with L1 only (``unet_l1``), the baseline that shows
what the adversarial term adds.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from genbench.core import losses as L
from genbench.models.base import Batch, OptimGroup
from genbench.models.registry import register
from genbench.models.translation import Task, Translator, TranslatorConfig
from genbench.nn.translation import PatchGAN, UNet, check_downsampling


@register("pix2pix")
class Pix2Pix(Translator):
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: L1/PSNR/SSIM/FID of the four variants equal to ±0.001/0.1 dB/0.004/6
    cpu_precision = "bf16"

    class Config(TranslatorConfig):
        kind: Literal["pix2pix"] = "pix2pix"
        task: Task = "edges"
        width: int = Field(default=32, ge=4)  # U-Net channels at the first level
        depth: int = Field(default=2, ge=1)  # stride-2 levels (28 -> 14 -> 7)
        dropout: float = Field(default=0.5, ge=0, lt=1)
        d_width: int = Field(default=32, ge=4)
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        adv_weight: float = Field(default=1.0, ge=0)  # 0 = the L1-only U-Net, no discriminator
        l1_weight: float = Field(default=100.0, ge=0)  # λ
        lr: float = Field(default=2e-4, gt=0)
        beta1: float = Field(default=0.5, ge=0, lt=1)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        try:
            check_downsampling(self.shape, cfg.depth, "depth")
        except ValueError as err:
            from genbench.core.errors import ConfigError

            raise ConfigError(str(err)) from None
        c = self.shape[0]
        self.gen = UNet(c, c, cfg.width, cfg.depth, cfg.dropout)
        self.disc = PatchGAN(2 * c, cfg.d_width) if cfg.adv_weight else None
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]

    def optimizer_groups(self):
        c, betas = self.cfg, (self.cfg.beta1, 0.999)
        groups = {"gen": OptimGroup(list(self.gen.parameters()), c.lr, betas)}
        if self.disc is not None:
            groups = {"disc": OptimGroup(list(self.disc.parameters()), c.lr, betas), **groups}
        return groups

    def _pair(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(input, target) in [-1, 1]; a new hole per batch for inpainting."""
        y = batch.x
        return self.source((y + 1) / 2) * 2 - 1, y

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x, y = self._pair(batch)
        if group == "disc":
            with torch.no_grad():
                fake = self.gen(x)
            real_logit = self.disc(torch.cat([x, y], 1))  # (B, 1, H/4, W/4) patch logits
            fake_logit = self.disc(torch.cat([x, fake], 1))
            return {"loss": self.d_loss(real_logit, fake_logit),
                    "acc_real": (real_logit > 0).float().mean().detach(),
                    "acc_fake": (fake_logit < 0).float().mean().detach()}
        fake = self.gen(x)
        l1 = (fake - y).abs().mean()
        out = {"l1": l1.detach()}
        loss = self.cfg.l1_weight * l1
        if self.disc is not None:
            adv = self.g_loss(self.disc(torch.cat([x, fake], 1)))
            loss = loss + self.cfg.adv_weight * adv
            out["adv"] = adv.detach()
        out["loss"] = loss
        return out

    def _translate(self, src, reverse):
        return self.gen(src)
