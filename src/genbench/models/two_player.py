"""What every GAN of the zoo shares: two players, each an optimizer group (Goodfellow et al.
2014, Algorithm 1: k discriminator steps per generator step), and optionally the generator's
weight average that samples.

- :class:`TwoPlayerConfig`: the players' learning rates (a different rate per player is the
  two time-scale update rule, Heusel et al. 2017), Adam's β1/β2 (Kingma & Ba 2015; DCGAN's
  β1 = 0.5, ProGAN's and StyleGAN's (0, 0.99)), ``d_steps`` (k) and the optimizer (RMSProp:
  the WGAN critic of Arjovsky et al. 2017). The learning rates and betas have no Python default:
  each recipe states them in its conf/model file, their one home.
- :class:`AveragedConfig`: ``ema``, the decay of the moving average of G's weights that samples
  (Yazıcı et al. 2019, as ProGAN, StyleGAN and BigGAN use it: :mod:`genbench.nn.ema`), 0 = the
  last iterate samples; stated in each recipe.
- :class:`TwoPlayerGAN`: the ``disc`` and ``gen`` groups from :meth:`players`, the average's
  bookkeeping, and the [-1, 1] input space of a tanh generator. A model with more players
  (StackGAN's two stages) declares its own groups.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from torch import nn

from genbench.core.config import Section
from genbench.models.base import GenerativeModel, OptimGroup, TrainableConfig
from genbench.nn.ema import EMA


class TwoPlayerConfig(TrainableConfig):
    lr_gen: float = Field(gt=0)
    lr_disc: float = Field(gt=0)  # ≠ lr_gen: the two time-scale update rule (TTUR)
    beta1: float = Field(ge=0, lt=1)
    beta2: float = Field(ge=0, lt=1)
    d_steps: int = Field(default=1, ge=1)  # k discriminator steps per generator step
    optimizer: Literal["adam", "rmsprop"] = "adam"


class AveragedConfig(Section):
    # decay of the moving average of G's weights that samples (0 = sample the last G)
    ema: float = Field(ge=0, lt=1)


class TwoPlayerGAN(GenerativeModel):
    """A generator ``gen`` against a discriminator ``disc``; subclasses build both."""

    family = "GANs"

    @property
    def input_transform(self) -> str:
        return "symmetric"  # [-1, 1], a tanh generator's range

    def players(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(D's parameters, G's parameters): what each group steps (a GAN whose D has a head
        of its own, InfoGAN's Q or GAN-CLS's text encoder, adds it to D's)."""
        return list(self.disc.parameters()), list(self.gen.parameters())

    @classmethod
    def search_space(cls, cfg: TwoPlayerConfig) -> dict[str, tuple]:
        """What ``make tune`` searches for this configuration (:mod:`genbench.tune`): each
        player's learning rate, log-uniform over [5e-5, 2e-3] (around every recipe here, DCGAN's
        2e-4 included), drawn separately (TTUR); Adam's β1 ∈ {0, 0.5} and β2 ∈ {0.9, 0.999}
        (the recipes' values; no betas under RMSProp); k ∈ {1, 5} discriminator steps per
        generator step: Lucic et al. 2018's n_disc, for every loss alike."""
        space = {"lr_gen": ("log", 5e-5, 2e-3), "lr_disc": ("log", 5e-5, 2e-3),
                 "d_steps": ("choice", (1, 5))}
        if cfg.optimizer == "adam":
            space |= {"beta1": ("choice", (0.0, 0.5)), "beta2": ("choice", (0.9, 0.999))}
        return space

    def optimizer_groups(self) -> dict[str, OptimGroup]:
        c = self.cfg
        betas, (disc, gen) = (c.beta1, c.beta2), self.players()
        # disc first: one engine step is D's k steps, then G's against the D just updated
        return {"disc": OptimGroup(disc, c.lr_disc, betas, steps=c.d_steps, optimizer=c.optimizer),
                "gen": OptimGroup(gen, c.lr_gen, betas, optimizer=c.optimizer)}

    # --- the generator's weight average (configs with AveragedConfig) ---------------------
    # (no class-level ``gen_ema = None``: it would shadow the submodule nn.Module registers)
    def average(self, net: nn.Module) -> None:
        """Keep the average of ``net`` (G, or the modules G is made of) where ``ema`` is set;
        call it in ``__init__`` where the average's weights belong in the state dict."""
        self.gen_ema = EMA(net, self.cfg.ema) if self.cfg.ema else None

    def update_average(self, net: nn.Module) -> None:
        """After a G step: move the average towards ``net`` (the same modules as at the start)."""
        if self.gen_ema is not None:
            self.gen_ema.update(net)

    def averaged(self, net: nn.Module) -> nn.Module:
        """The network that samples: the average where ``ema`` is set, else ``net`` itself."""
        return net if self.gen_ema is None else self.gen_ema
