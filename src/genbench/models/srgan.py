"""SRGAN (Ledig et al. 2017; seed 002 "super resolution"): a residual generator with sub-pixel
upsampling maps the low-resolution image (average-pooled by data.translation.sr_factor) to full
size; an (unconditional) PatchGAN discriminator judges full-size images. The generator's loss

    L = content + ``adv_weight`` · L_adv        (adv_weight = 1e-3 in the paper)

with ``content: pixel`` (MSE, the paper's SRResNet-MSE) or ``content: features`` (MSE between
the evaluator classifier's penultimate features, the analogue of the paper's VGG loss: the
train stage then loads the evaluator). ``warmup_steps`` generator steps with the content loss
alone first (the paper initialises from a trained SRResNet).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from genbench.core import losses as L
from genbench.core.errors import ConfigError
from genbench.models.base import Batch, OptimGroup
from genbench.models.registry import register
from genbench.models.translation import Translator, TranslatorConfig, bicubic, downsample
from genbench.nn.translation import PatchGAN, SRGenerator


@register("srgan")
class SRGAN(Translator):
    fixed_task = "sr"

    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: FID 60.5 both, PSNR 19.00 both
    cpu_precision = "bf16"

    class Config(TranslatorConfig):
        kind: Literal["srgan"] = "srgan"
        width: int = Field(default=32, ge=4)
        blocks: int = Field(default=4, ge=0)
        d_width: int = Field(default=32, ge=4)
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        content: Literal["pixel", "features"] = "pixel"
        adv_weight: float = Field(default=1e-3, ge=0)
        warmup_steps: int = Field(default=0, ge=0)
        lr: float = Field(default=1e-4, gt=0)
        beta1: float = Field(default=0.9, ge=0, lt=1)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        c = self.shape[0]
        try:
            self.gen = SRGenerator(c, cfg.width, cfg.blocks, self.domain.sr_factor)
        except ValueError as err:
            raise ConfigError(f"data.translation.{err}") from None
        self.disc = PatchGAN(c, cfg.d_width)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]
        self.register_buffer("gen_steps", torch.zeros((), dtype=torch.long))  # for warmup
        self._features = None  # the evaluator's feature map (content: features), not saved

    @property
    def needs_features(self) -> bool:
        return self.cfg.content == "features"

    def attach_features(self, net: torch.nn.Module) -> None:
        """The frozen evaluator classifier whose features define the content loss."""
        for p in net.parameters():
            p.requires_grad_(False)
        self._features = [net.eval()]  # a list: not a submodule, not in the weights

    def source(self, x, generator=None):
        return downsample(x, self.domain.sr_factor)  # (B, C, H/f, W/f)

    def baseline(self, src):
        return bicubic(src, self.domain.sr_factor)

    def optimizer_groups(self):
        c, betas = self.cfg, (self.cfg.beta1, 0.999)
        return {"disc": OptimGroup(list(self.disc.parameters()), c.lr, betas),
                "gen": OptimGroup(list(self.gen.parameters()), c.lr, betas)}

    def _content(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if self.cfg.content == "pixel":
            return F.mse_loss(sr, hr)
        if self._features is None:
            raise ConfigError("srgan content: features needs the evaluator (attach_features)")
        net = self._features[0].to(sr.device)
        return F.mse_loss(net.features((sr + 1) / 2), net.features((hr + 1) / 2))

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        hr = batch.x  # (B, C, H, W) in [-1, 1]
        lr_img = self.source((hr + 1) / 2) * 2 - 1
        if group == "disc":
            with torch.no_grad():
                sr = self.gen(lr_img)
            real_logit, fake_logit = self.disc(hr), self.disc(sr)
            return {"loss": self.d_loss(real_logit, fake_logit),
                    "acc_real": (real_logit > 0).float().mean().detach(),
                    "acc_fake": (fake_logit < 0).float().mean().detach()}
        sr = self.gen(lr_img)
        content = self._content(sr, hr)
        adv = self.g_loss(self.disc(sr))
        # warm-up as a tensor mask: no host sync on the step counter
        on = (self.gen_steps >= self.cfg.warmup_steps).to(sr.dtype)
        return {"loss": content + on * self.cfg.adv_weight * adv, "content": content.detach(),
                "adv": adv.detach()}

    def on_step_end(self, group: str) -> None:
        if group == "gen":
            self.gen_steps += 1

    def _translate(self, src, reverse):
        return self.gen(src)
