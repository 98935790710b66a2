"""CycleGAN (Zhu et al. 2017; seeds 000/001 horses <-> zebras, 002 "unpaired translation", 004
"CycleGAN" code): two generators G: A -> B and F: B -> A, two PatchGAN discriminators, trained
on unpaired images with

    L = L_LSGAN(G, D_B) + L_LSGAN(F, D_A) + λ_cyc (‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁)
        + λ_id · λ_cyc (‖G(b) − b‖₁ + ‖F(a) − a‖₁)

The cycle terms stop G from mapping every a to one plausible b; the identity term (optional,
``lambda_id: 0``) keeps colours/intensity when the input already looks like the target. D
learns from a pool of past fakes (``pool_size``). Domain A is the pipeline's dataset, domain B
data.translation.unpaired. At 28x28 the generators are small ResNets (``blocks`` residual blocks
after ``n_down`` stride-2 convolutions).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from genbench.core import losses as L
from genbench.core.errors import ConfigError
from genbench.models.base import Batch, OptimGroup
from genbench.models.registry import register
from genbench.models.translation import Translator, TranslatorConfig
from genbench.nn.translation import ImagePool, PatchGAN, ResNetGenerator, check_downsampling


@register("cyclegan")
class CycleGAN(Translator):
    #: why DDP does not apply (genbench.core.distributed.blocker): trains in one process
    not_data_parallel = "its image pools of past fakes are per-rank state"
    unpaired = True

    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: class kept 0.598/0.817 vs 0.612/0.828, cycle L1 equal
    cpu_precision = "bf16"

    class Config(TranslatorConfig):
        kind: Literal["cyclegan"] = "cyclegan"
        width: int = Field(default=16, ge=4)
        blocks: int = Field(default=3, ge=0)
        n_down: int = Field(default=2, ge=0)
        d_width: int = Field(default=32, ge=4)
        loss: Literal[tuple(L.GAN_LOSSES)] = "least_squares"  # type: ignore[valid-type]
        lambda_cyc: float = Field(default=10.0, ge=0)
        lambda_id: float = Field(default=0.0, ge=0)  # relative to lambda_cyc (the paper: 0.5)
        pool_size: int = Field(default=50, ge=0)  # 0 = D sees only the current fakes
        lr: float = Field(default=2e-4, gt=0)
        beta1: float = Field(default=0.5, ge=0, lt=1)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        try:
            check_downsampling(self.shape, cfg.n_down, "n_down")
        except ValueError as err:
            raise ConfigError(str(err)) from None
        c = self.shape[0]
        self.g_ab = ResNetGenerator(c, cfg.width, cfg.blocks, cfg.n_down)
        self.g_ba = ResNetGenerator(c, cfg.width, cfg.blocks, cfg.n_down)
        self.d_a = PatchGAN(c, cfg.d_width, norm="instance")
        self.d_b = PatchGAN(c, cfg.d_width, norm="instance")
        self.pool_a = ImagePool(cfg.pool_size, self.shape)
        self.pool_b = ImagePool(cfg.pool_size, self.shape)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]
        self._last: dict[str, torch.Tensor] = {}  # the generator step's batch, for D's step

    def optimizer_groups(self):
        c, betas = self.cfg, (self.cfg.beta1, 0.999)
        gens = [*self.g_ab.parameters(), *self.g_ba.parameters()]
        discs = [*self.d_a.parameters(), *self.d_b.parameters()]
        # gen first: D's step then sees the fakes G just made (through the pool)
        return {"gen": OptimGroup(gens, c.lr, betas), "disc": OptimGroup(discs, c.lr, betas)}

    def _gen_losses(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.cfg
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)  # (B, C, H, W) each
        adv = self.g_loss(self.d_b(fake_b)) + self.g_loss(self.d_a(fake_a))
        cyc = (self.g_ba(fake_b) - a).abs().mean() + (self.g_ab(fake_a) - b).abs().mean()
        loss = adv + c.lambda_cyc * cyc
        out = {"adv": adv.detach(), "cycle": cyc.detach()}
        if c.lambda_id:
            idt = (self.g_ab(b) - b).abs().mean() + (self.g_ba(a) - a).abs().mean()
            loss = loss + c.lambda_id * c.lambda_cyc * idt
            out["identity"] = idt.detach()
        self._last = {"a": a, "b": b, "fake_a": fake_a.detach(), "fake_b": fake_b.detach()}
        out["loss"] = loss
        return out

    def _disc_losses(self) -> dict[str, torch.Tensor]:
        s = self._last
        out = {}
        loss = 0.0
        for name, d, real, fake in (("a", self.d_a, s["a"], self.pool_a.query(s["fake_a"])),
                                    ("b", self.d_b, s["b"], self.pool_b.query(s["fake_b"]))):
            real_logit, fake_logit = d(real), d(fake)
            loss = loss + 0.5 * self.d_loss(real_logit, fake_logit)  # halved: D learns slower
            t = 0.5 if self.cfg.loss == "least_squares" else 0.0
            out[f"acc_real_{name}"] = (real_logit > t).float().mean().detach()
            out[f"acc_fake_{name}"] = (fake_logit < t).float().mean().detach()
        out["loss"] = loss
        return out

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        if group == "gen" or not self._last:  # D before any G step (a test): make the batch
            with torch.set_grad_enabled(group == "gen"):
                gen_out = self._gen_losses(batch.x, self.other_batch(len(batch.x), batch.x.device))
            if group == "gen":
                return gen_out
        return self._disc_losses()

    def _translate(self, src, reverse):
        return (self.g_ba if reverse else self.g_ab)(src)
