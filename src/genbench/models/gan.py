"""The GAN family as one class whose variants are config (seeds 000, 002 §4, 003, 004's
"Loss-variant GANs" table):

- ``gan``: MLP generator/discriminator (Goodfellow et al. 2014), ``loss: minimax`` or
  ``non_saturating``; ``dcgan``: ``arch: conv`` (Radford et al. 2016);
- ``lsgan`` = ``loss: least_squares`` (Mao et al. 2017); ``wgan`` = ``loss: wasserstein`` +
  weight ``clip`` τ + RMSprop (Arjovsky et al. 2017); ``wgan_gp`` = ``penalty: gp`` (Gulrajani et
  al. 2017); ``dragan`` = ``penalty: dragan`` (Kodali et al. 2017); hinge loss and
  ``spectral_norm`` (Miyato et al. 2018);
- ``cgan`` = ``conditional: true`` (Mirza & Osindero 2014): the one-hot label joins z and D's
  input; ``wrong_label_negatives``: a real image with a wrong label is a negative for D (seed 002
  "conditioned labelling");
- stabilisers (seeds 002/003/004), each a switch: ``d_steps`` k, TTUR (``lr_disc`` ≠ ``lr_gen``),
  one-sided ``label_smoothing``, ``instance_noise``, ``d_dropout``, ``minibatch_kernels``
  (minibatch discrimination), ``feature_matching``, ``unrolled_steps`` (Metz et al. 2017: G's
  loss sees D after k differentiable SGD steps), ``replay`` (experience replay of past fakes).

Losses and penalties are the pure functions of :mod:`genbench.core.losses`, picked by name.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch.func import functional_call

from genbench.core import losses as L
from genbench.core.config import Units
from genbench.models.base import Batch
from genbench.models.registry import register
from genbench.models.two_player import AveragedConfig, TwoPlayerConfig, TwoPlayerGAN
from genbench.nn import augment as AUG
from genbench.nn.gan import Discriminator, Generator, apply_spectral_norm


@register("gan")
class GAN(TwoPlayerGAN):
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: mlp fp32: bf16 raised gan 352 vs 284, gan_mm 516 vs 399 (seeds 284/333/429); conv bf16:
    #: all six conv GANs within ±40 FID or better (dcgan seeds sd 33)
    cpu_precision = {"mlp": "fp32", "conv": "bf16"}

    class Config(TwoPlayerConfig, AveragedConfig):
        kind: Literal["gan"] = "gan"
        arch: Literal["mlp", "conv"] = "mlp"
        z_dim: int = Field(ge=1)
        width: int = Field(default=32, ge=4)  # conv channels
        g_width: int | None = Field(default=None, ge=4)  # the generator's, if not `width`
        hidden: list[Units] = Field(default=[256, 512], min_length=1)  # mlp layer sizes
        output: Literal["tanh", "linear"] = "tanh"  # linear: unbounded data (the 2-D toys)
        loss: Literal[tuple(L.GAN_LOSSES)] = "non_saturating"  # type: ignore[valid-type]
        d_norm: Literal["batch", "layer", "none"] = "none"
        d_dropout: float = Field(default=0.0, ge=0, lt=1)
        clip: float | None = Field(default=None, gt=0)  # WGAN weight clipping τ
        penalty: Literal["none", "gp", "dragan"] = "none"
        penalty_weight: float = Field(default=10.0, ge=0)  # λ
        spectral_norm: bool = False
        label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)  # real target 1 - s
        instance_noise: float = Field(default=0.0, ge=0)  # σ of noise on D's inputs
        minibatch_kernels: int = Field(default=0, ge=0)  # minibatch discrimination, 0 = off
        minibatch_kernel_dim: int = Field(default=8, ge=1)
        feature_matching: bool = False  # G matches D's mean features instead of fooling D
        unrolled_steps: int = Field(default=0, ge=0)
        replay: float = Field(default=0.0, ge=0, le=1)  # fraction of D's fakes from the past
        replay_size: int = Field(default=2048, ge=1)
        conditional: bool = False
        wrong_label_negatives: bool = False
        # DiffAugment policies on every image D sees, real and fake, in both players' steps
        # (Zhao et al. 2020): against a discriminator that memorises a small training set
        augment: list[Literal[tuple(AUG.POLICIES)]] = Field(  # type: ignore[valid-type]
            default_factory=list)

        @model_validator(mode="after")
        def _consistent(self):
            if self.label_smoothing and self.loss not in L.SMOOTHABLE:
                raise ValueError(f"label_smoothing needs a loss with targets "
                                 f"({', '.join(L.SMOOTHABLE)}), not {self.loss}")
            if self.wrong_label_negatives and not self.conditional:
                raise ValueError("wrong_label_negatives needs conditional: true")
            if self.replay and self.conditional:
                raise ValueError("replay is not supported with conditional: true")
            if self.penalty != "none" and self.d_norm == "batch":
                raise ValueError("a gradient penalty is per sample: use d_norm layer or none, "
                                 "not batch")
            return self

    @classmethod
    def search_space(cls, cfg: Config) -> dict[str, tuple]:
        """The players' settings (:meth:`TwoPlayerGAN.search_space`), and what this loss adds:
        the penalty weight λ log-uniform over [1, 30] (Gulrajani et al.'s and Kodali et al.'s
        10 inside), the clip τ over [0.003, 0.03] (Arjovsky et al.'s 0.01 inside)."""
        space = super().search_space(cfg)
        if cfg.penalty != "none":
            space["penalty_weight"] = ("log", 1.0, 30.0)
        if cfg.clip:
            space["clip"] = ("log", 0.003, 0.03)
        return space

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.conditional = cfg.conditional
        k = num_classes if cfg.conditional else 0
        self.gen = Generator(cfg.arch, cfg.z_dim, self.shape, cfg.g_width or cfg.width,
                             list(cfg.hidden), cfg.output, extra=k)
        self.disc = Discriminator(cfg.arch, self.shape, cfg.width, list(cfg.hidden), extra=k,
                                  dropout=cfg.d_dropout, norm=cfg.d_norm,
                                  minibatch_kernels=cfg.minibatch_kernels,
                                  minibatch_kernel_dim=cfg.minibatch_kernel_dim)
        if cfg.spectral_norm:
            apply_spectral_norm(self.disc)
        self.average(self.gen)
        self.d_loss, self.g_loss = L.GAN_LOSSES[cfg.loss]
        if cfg.replay:
            self.register_buffer("replay_buffer", torch.zeros(cfg.replay_size, *self.shape))
        self._replay_filled = False

    @property
    def input_transform(self) -> str:
        return "symmetric" if self.cfg.output == "tanh" else "unit"

    @property
    def not_data_parallel(self) -> str | None:  # genbench.core.distributed.blocker
        if self.cfg.minibatch_kernels:
            return "minibatch discrimination compares each sample with the whole batch"
        return None

    # --- pieces ---------------------------------------------------------------------------
    def _onehot(self, y: torch.Tensor | None) -> torch.Tensor | None:
        return F.one_hot(y, self.num_classes).float() if self.conditional else None

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment (``augment``): what D sees of any image, real or fake, in either step."""
        if not self.cfg.augment:
            return x
        return AUG.diff_augment(x, self.cfg.augment, -1.0 if self.cfg.output == "tanh" else 0.0)

    def _noisy(self, x: torch.Tensor) -> torch.Tensor:
        """D's view in its own step: augmented, then instance noise (Sønderby et al. 2017: both
        distributions blurred for D)."""
        x = self._augment(x)
        s = self.cfg.instance_noise
        return x + s * torch.randn_like(x) if s else x

    def _critic(self, c: torch.Tensor | None):
        return lambda x: self.disc(x, c)[0]

    def _with_replay(self, fake: torch.Tensor) -> torch.Tensor:
        """Experience replay (seed 003): part of D's fake batch comes from a buffer of past
        fakes, so D keeps punishing modes G has left; the buffer takes the current fakes."""
        buf = self.replay_buffer
        fake = fake.to(buf.dtype)  # bf16 under autocast: stored exactly
        if not self._replay_filled:  # first step (or after a resume): seed with current fakes
            reps = -(-len(buf) // len(fake))
            buf.copy_(fake.repeat(reps, *([1] * (fake.dim() - 1)))[:len(buf)])
            self._replay_filled = True
        n_old = int(self.cfg.replay * len(fake))
        old = buf[torch.randint(len(buf), (n_old,), device=fake.device)]
        buf[torch.randint(len(buf), (len(fake),), device=fake.device)] = fake
        return torch.cat([fake[:len(fake) - n_old], old])

    def _unrolled_disc_params(self, x: torch.Tensor, c: torch.Tensor | None):
        """D's parameters after ``unrolled_steps`` differentiable SGD steps on fresh fakes: the
        generator's loss is taken against this look-ahead D (Metz et al. 2017)."""
        params = {n: p.detach().requires_grad_(True) for n, p in self.disc.named_parameters()}
        buffers = dict(self.disc.named_buffers())
        for _ in range(self.cfg.unrolled_steps):
            z = torch.randn(len(x), self.cfg.z_dim, device=x.device)
            fake = self.gen(z, c)  # keeps G's graph: G learns how D would react
            real_logit = functional_call(self.disc, (params, buffers), (x, c))[0]
            fake_logit = functional_call(self.disc, (params, buffers), (fake, c))[0]
            loss = self.d_loss(real_logit, fake_logit)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
            params = {n: p - self.cfg.lr_disc * g for (n, p), g in zip(params.items(), grads)}
        return params, buffers

    def _accuracy(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """D's accuracy on real and on fake (a perfect generator leaves it at 50%); for critics
        without a threshold, the Wasserstein estimate E f(x) - E f(G(z))."""
        if self.cfg.loss == "wasserstein":
            return {"w_estimate": (real.mean() - fake.mean()).detach()}
        t = 0.5 if self.cfg.loss == "least_squares" else 0.0
        return {"acc_real": (real > t).float().mean().detach(),
                "acc_fake": (fake < t).float().mean().detach()}

    # --- the contract ---------------------------------------------------------------------
    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        cfg, x = self.cfg, batch.x
        c = self._onehot(batch.y)
        z = torch.randn(len(x), cfg.z_dim, device=x.device)
        if group == "disc":
            fake = self.gen(z, c).detach()
            if cfg.replay:
                fake = self._with_replay(fake)
            real_logit = self.disc(self._noisy(x), c)[0]
            fake_logit = self.disc(self._noisy(fake), c)[0]
            out = self._accuracy(real_logit, fake_logit)
            negatives = fake_logit
            if cfg.wrong_label_negatives:  # (real image, wrong label) is a negative too
                wrong = (batch.y + torch.randint_like(batch.y, 1, self.num_classes)) \
                    % self.num_classes
                negatives = torch.cat([fake_logit,
                                       self.disc(self._augment(x), self._onehot(wrong))[0]])
            loss = self.d_loss(real_logit, negatives, cfg.label_smoothing)
            out["adv"] = loss.detach()
            if cfg.penalty == "gp":
                pen = L.gradient_penalty(self._critic(c), x, fake)
            elif cfg.penalty == "dragan":
                pen = L.dragan_penalty(self._critic(c), x)
            else:
                pen = None
            if pen is not None:
                loss = loss + cfg.penalty_weight * pen
                out["penalty"] = pen.detach()
            out["loss"] = loss
            return out
        fake = self._augment(self.gen(z, c))
        if cfg.feature_matching:  # ‖E f(x) - E f(G(z))‖² on D's last hidden layer (Salimans)
            with torch.no_grad():
                real_feat = self.disc(self._augment(x), c)[1]
            loss = (real_feat.mean(0) - self.disc(fake, c)[1].mean(0)).pow(2).sum()
        elif cfg.unrolled_steps:
            params, buffers = self._unrolled_disc_params(x, c)
            loss = self.g_loss(functional_call(self.disc, (params, buffers), (fake, c))[0])
        else:
            loss = self.g_loss(self.disc(fake, c)[0])
        return {"loss": loss}

    def on_step_end(self, group: str) -> None:
        if group == "disc" and self.cfg.clip:  # WGAN: keep the critic in a Lipschitz ball
            with torch.no_grad():
                for p in self.disc.parameters():
                    p.clamp_(-self.cfg.clip, self.cfg.clip)
        if group == "gen":
            self.update_average(self.gen)

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws of the prior z (n, z_dim): the code space of the arithmetic analysis."""
        return self.randn(n, self.cfg.z_dim, generator=generator)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(z) (with the labels of a conditional GAN) as [0, 1] images, from the moving
        average of G's weights where ``ema`` is set. (n, C, H, W)"""
        x = self.averaged(self.gen)(z, self._onehot(labels))
        return (x + 1) / 2 if self.cfg.output == "tanh" else x

    def _sample(self, n, generator, labels=None):
        return self.generate(self.latent(n, generator), labels)
