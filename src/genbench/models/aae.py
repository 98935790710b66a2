"""Adversarial autoencoder (Makhzani et al. 2016; seed 003 "Adversarial autoencoders"): an
autoencoder whose code distribution is pushed to a prior by a discriminator on the code instead of
a KL term. Three modes (seed 003):

- ``unsupervised``: q(z|x) matched to N(0, I); samples decode prior draws;
- ``supervised``: the one-hot label joins the decoder's input, so z carries the style only;
  samples are drawn per class (class accuracy judged by the evaluator);
- ``semi_supervised``: the encoder also outputs q(y|x) (a softmax), matched to a categorical prior
  by a second discriminator and trained by cross-entropy on ``labels`` labelled training images;
  the decoder sees (y, z). Its test classification accuracy is reported.

Groups: ``ae`` (reconstruction, plus the labelled cross-entropy), ``disc`` (code discriminators),
``gen`` (the encoder fooling them).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from genbench.core import losses as L
from genbench.core.config import Units
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.models.registry import register
from genbench.nn import mlp


@register("aae")
class AAE(GenerativeModel):
    family = "Variational and adversarial autoencoders"
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: bf16 FID 1447 / 600 / 571 vs 1115 / 863 / 561: aae above all 3 seeds
    #: (1115, 756, 492); aae_supervised / aae_semi share the kind
    cpu_precision = "fp32"

    class Config(TrainableConfig):
        kind: Literal["aae"] = "aae"
        mode: Literal["unsupervised", "supervised", "semi_supervised"] = "unsupervised"
        latent_dim: int = Field(ge=1)
        hidden: list[Units] = Field(default=[512, 256], min_length=1)
        disc_hidden: list[Units] = Field(default=[256, 256], min_length=1)
        labels: int = Field(default=100, ge=1)  # labelled train images (semi_supervised)
        lr: float = Field(gt=0)  # reconstruction
        lr_adv: float = Field(gt=0)  # discriminators and the encoder as generator
        beta1: float = Field(default=0.5, ge=0, lt=1)
        label_batch: int = Field(default=32, ge=1)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.conditional = cfg.mode == "supervised"
        self.semi = cfg.mode == "semi_supervised"
        k = num_classes if cfg.mode != "unsupervised" else 0
        j = cfg.latent_dim
        h = list(cfg.hidden)
        self.encoder = mlp([self.dim, *h, j + (k if self.semi else 0)])  # -> z (, y logits)
        self.decoder = mlp([j + k, *reversed(h), self.dim])  # (z, y) -> pixel logits
        self.disc_z = mlp([j, *cfg.disc_hidden, 1], act=lambda: nn.LeakyReLU(0.2))
        if self.semi:
            self.disc_y = mlp([k, *cfg.disc_hidden, 1], act=lambda: nn.LeakyReLU(0.2))
            # the labelled subset, drawn in on_train_start (seeded, balanced over classes)
            n_lab = max(1, cfg.labels // num_classes) * num_classes
            self.register_buffer("lab_x", torch.zeros(n_lab, *self.shape))
            self.register_buffer("lab_y", torch.zeros(n_lab, dtype=torch.long))

    def optimizer_groups(self):
        c = self.cfg
        betas = (c.beta1, 0.999)
        discs = [*self.disc_z.parameters(), *(self.disc_y.parameters() if self.semi else [])]
        return {"ae": OptimGroup([*self.encoder.parameters(), *self.decoder.parameters()], c.lr),
                "disc": OptimGroup(discs, c.lr_adv, betas),
                "gen": OptimGroup(list(self.encoder.parameters()), c.lr_adv, betas)}

    def on_train_start(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if not self.semi:
            return
        g = torch.Generator().manual_seed(0)
        per = len(self.lab_y) // self.num_classes
        idx = []
        for c in range(self.num_classes):
            members = torch.nonzero(y.cpu() == c).flatten()
            if len(members) == 0:
                members = torch.arange(len(y))  # a class absent from the split: any image
            pick = members[torch.randperm(len(members), generator=g)[:per]]
            idx.append(pick[torch.arange(per) % len(pick)])  # repeats only if the class is tiny
        idx = torch.cat(idx).to(x.device)
        self.lab_x.copy_(x[idx])
        self.lab_y.copy_(y[idx])

    # --- encoder / decoder ----------------------------------------------------------------
    def _enc(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = self.encoder(x.flatten(1))
        j = self.cfg.latent_dim
        return out[:, :j], (out[:, j:] if self.semi else None)  # z, y logits

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The code: z (B, J); semi-supervised: (z, q(y|x)) (B, J + K)."""
        z, y_logits = self._enc(x)
        return torch.cat([z, y_logits.softmax(1)], 1) if self.semi else z

    def prior_codes(self, x: torch.Tensor) -> torch.Tensor:
        """The codes the adversarial regulariser pushes to N(0, I): z (B, J) (the prior-match
        analysis tests them against it)."""
        return self._enc(x)[0]

    def _dec_logits(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditional:  # supervised: the label joins the style code
            h = torch.cat([h, F.one_hot(y, self.num_classes).float()], 1)
        return self.decoder(h).view(-1, *self.shape)

    def decode(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self._dec_logits(h, y))

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x), y)

    # --- the three phases -----------------------------------------------------------------
    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        x, y = batch.x, batch.y
        z, y_logits = self._enc(x)
        if group == "ae":
            h = torch.cat([z, y_logits.softmax(1)], 1) if self.semi else z
            logits = self._dec_logits(h, y if self.conditional else None)
            rec = L.bernoulli_nll(logits, x).mean()
            out = {"rec": rec.detach()}
            loss = rec
            if self.semi:
                i = torch.randint(len(self.lab_y), (self.cfg.label_batch,), device=x.device)
                ce = F.cross_entropy(self._enc(self.lab_x[i])[1], self.lab_y[i])
                loss = loss + ce
                out["label_ce"] = ce.detach()
            out["loss"] = loss
            return out
        prior_z = torch.randn_like(z)
        if group == "disc":
            real, fake = self.disc_z(prior_z).squeeze(1), self.disc_z(z.detach()).squeeze(1)
            loss = L.d_nonsaturating(real, fake)
            out = {"acc_real": (real > 0).float().mean().detach(),
                   "acc_fake": (fake < 0).float().mean().detach()}
            if self.semi:
                prior_y = F.one_hot(torch.randint(self.num_classes, (len(x),), device=x.device),
                                    self.num_classes).float()
                loss = loss + L.d_nonsaturating(self.disc_y(prior_y).squeeze(1),
                                                self.disc_y(y_logits.softmax(1).detach()).squeeze(1))
            out["loss"] = loss
            return out
        loss = L.g_nonsaturating(self.disc_z(z).squeeze(1))
        if self.semi:
            loss = loss + L.g_nonsaturating(self.disc_y(y_logits.softmax(1)).squeeze(1))
        return {"loss": loss}

    def _sample(self, n, generator, labels=None):
        z = self.randn(n, self.cfg.latent_dim, generator=generator)
        if self.semi:  # a categorical prior draw for y
            y = torch.randint(self.num_classes, (n,), generator=generator).to(self.device)
            z = torch.cat([z, F.one_hot(y, self.num_classes).float()], 1)
        return self.decode(z, labels)

    def test_metrics(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        out = super().test_metrics(x, y)
        if self.semi:  # q(y|x) as a classifier trained from `labels` labels
            out["label_accuracy"] = (self._enc(x)[1].argmax(1) == y).float()
        return out
