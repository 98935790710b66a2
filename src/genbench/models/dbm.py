"""Deep Boltzmann machine with two hidden layers (Salakhutdinov & Hinton 2009, "Deep Boltzmann
Machines", AISTATS; seed 004 "DBN and DBM"), on binarised pixels. The layer and its bound,
AIS and enumeration live in :mod:`genbench.nn.dbm`.

Training (one optimizer group, SGD with momentum; the engine steps it), in three phases of the
engine's steps:

1. ``pretrain_steps``: the bottom RBM v–h1 with *doubled input* (P(h1|v) = σ(2W1ᵀv + c1),
   P(v|h1) = σ(W1h1 + b)), by CD-k;
2. ``pretrain_steps``: the top RBM h1–h2 with *doubled hidden units* (P(h2|h1) = σ(W2ᵀh1 + c2),
   P(h1|h2) = σ(2W2h2 + c1')), on samples of h1 from the bottom RBM, by CD-k. Composed, each
   layer then gets half its pretrained input from below and half from above (S&H 2009, §3.1);
   h1's bias becomes the mean of the two RBMs' biases for it;
3. the rest: joint training, the data term from the mean-field fixed point (``mf_iters``
   rounds), the model term from ``batch_size`` persistent Gibbs chains (``k`` rounds per update).

Each phase's loss is E(data states) − E(model states) averaged over the batch (hidden means in
place of states where the rule uses means): its gradient is the phase's update rule (positive
minus negative statistics).

Test log-likelihood: the variational lower bound of the mean-field q (``mf_iters_test``
rounds), with log Z from AIS over h1 (``ais_repeats`` independent estimates: their spread is
reported). AIS makes it an estimate of a bound, labelled so. Samples: ``sample_steps`` Gibbs
rounds from random states, the last visible probabilities. ``chain``: the chain-mixing metric,
as for the RBM. ``encode``: the mean-field means of h1 (the clustering and probe analyses).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from genbench.core.config import Units
from genbench.core.errors import ConfigError
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.models.registry import register
from genbench.nn.dbm import DBM
from genbench.nn.rbm import _bernoulli, logmeanexp


@register("dbm")
class DBMModel(GenerativeModel):
    family = "Boltzmann machines and Markov chains"
    #: why DDP does not apply (genbench.core.distributed.blocker): trains in one process
    not_data_parallel = "its persistent Gibbs chains are per-rank state"

    class Config(TrainableConfig):
        kind: Literal["dbm"] = "dbm"
        hidden: list[Units] = Field(min_length=2, max_length=2)  # [h1, h2]
        pretrain_steps: int = Field(ge=1)  # engine steps of each pretrained RBM
        k: int = Field(default=5, ge=1)  # Gibbs rounds per update (CD-k, then PCD-k)
        mf_iters: int = Field(default=5, ge=1)  # mean-field rounds of the data term
        mf_iters_test: int = Field(default=30, ge=1)  # ... of the test bound
        lr: float = Field(gt=0)
        #: the joint phase's learning rate as a share of ``lr`` (its loss is scaled: with SGD
        #: that scales the step); S&H 2009 trained jointly at a smaller rate than pretraining
        joint_lr_scale: float = Field(default=0.3, gt=0, le=1)
        momentum: float = Field(default=0.5, ge=0, lt=1)
        lr_schedule: Literal["constant", "linear"] = "linear"  # linear: to 0 at the end
        weight_decay: float = Field(default=1e-4, ge=0)
        sample_steps: int = Field(default=1000, ge=1)
        ais_betas: int = Field(default=5000, ge=2)
        ais_runs: int = Field(default=50, ge=2)
        ais_repeats: int = Field(default=3, ge=1)

    likelihood = "lower bound (mean-field variational) with an AIS log Z"

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if cfg.steps <= 2 * cfg.pretrain_steps:
            raise ConfigError(f"steps = {cfg.steps}: must exceed 2 × pretrain_steps "
                              f"({2 * cfg.pretrain_steps}) to leave steps for joint training")
        h1, h2 = cfg.hidden
        self.dbm = DBM(self.dim, h1, h2)
        self.c1_top = nn.Parameter(torch.zeros(h1))  # the top RBM's bias of h1 (pretraining)
        self.register_buffer("chains_v", torch.zeros(cfg.batch_size, self.dim))
        self.register_buffer("chains_h2", torch.zeros(cfg.batch_size, h2))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self._steps: int | None = None  # host copy of steps_done: no device sync per step
        self.register_buffer("base_bias", torch.zeros(h1))  # AIS base rate over h1
        self.register_buffer("log_z", torch.zeros(()))
        self.register_buffer("log_z_runs", torch.zeros(cfg.ais_repeats))

    @property
    def input_transform(self) -> str:
        return "binary_dynamic"

    def optimizer_groups(self):
        # one group: in each phase only its parameters get gradients (SGD skips the others)
        return {"dbm": OptimGroup(list(self.parameters()), self.cfg.lr,
                                  betas=(self.cfg.momentum, 0.999), optimizer="sgd",
                                  weight_decay=self.cfg.weight_decay,
                                  schedule=self.cfg.lr_schedule)}

    def phase(self) -> int:
        """0: bottom RBM, 1: top RBM, 2: joint training."""
        if self._steps is None:  # first call, after any resume has loaded the buffer
            self._steps = int(self.steps_done)
        return min(self._steps // self.cfg.pretrain_steps, 2)

    def on_train_start(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if int(self.steps_done) == 0:  # not on resume: the biases have trained since
            v = x.flatten(1).float()
            p = (v.mean(0) * len(v) + 0.5) / (len(v) + 1)
            self.dbm.b.data.copy_((p / (1 - p)).log())  # Hinton's guide: log p/(1-p)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        phase = self.phase()
        v = batch.x.flatten(1)  # (B, V) binary
        loss = (self._bottom, self._top, self._joint)[phase](v)
        return {"loss": loss, "phase": torch.tensor(float(phase), device=v.device)}

    def _bottom(self, v: torch.Tensor) -> torch.Tensor:
        d = self.dbm
        up = lambda s: torch.sigmoid(2 * (s @ d.W1) + d.c1)  # noqa: E731  doubled input
        with torch.no_grad():
            h, s = up(v), v
            for _ in range(self.cfg.k):
                s = torch.bernoulli(d.p_v(torch.bernoulli(up(s))))
            h_model = up(s)

        def e(vv, hh):  # energy of the doubled-input RBM (two tied copies of v), hidden means
            return -(2 * (vv @ d.b) + hh @ d.c1 + 2 * ((vv @ d.W1) * hh).sum(1)).mean()
        return e(v, h) - e(s, h_model)

    def _top(self, v: torch.Tensor) -> torch.Tensor:
        d = self.dbm
        up = lambda s: torch.sigmoid(s @ d.W2 + d.c2)  # noqa: E731
        with torch.no_grad():
            h1 = torch.bernoulli(torch.sigmoid(2 * (v @ d.W1) + d.c1))  # the bottom RBM's h1
            h2, s = up(h1), h1
            for _ in range(self.cfg.k):  # h1 gets both copies of h2: 2 W2 h2
                s = torch.bernoulli(torch.sigmoid(2 * (torch.bernoulli(up(s)) @ d.W2.T)
                                                  + self.c1_top))
            h2_model = up(s)

        def e(a, hh):  # energy of the doubled-hidden RBM (two tied copies of h2), h2 means
            return -(a @ self.c1_top + 2 * (hh @ d.c2) + 2 * ((a @ d.W2) * hh).sum(1)).mean()
        return e(h1, h2) - e(s, h2_model)

    def _joint(self, v: torch.Tensor) -> torch.Tensor:
        d, n = self.dbm, len(v)
        with torch.no_grad():
            if self._steps == 2 * self.cfg.pretrain_steps:  # the first joint step: compose
                d.c1.copy_((d.c1 + self.c1_top) / 2)
                mu1, mu2 = d.mean_field(v, self.cfg.mf_iters)
                self.chains_v[:n] = v
                self.chains_h2[:n] = torch.bernoulli(mu2)
            mu1, mu2 = d.mean_field(v, self.cfg.mf_iters)
            cv, ch1, ch2 = d.gibbs(self.chains_v[:n], self.chains_h2[:n], self.cfg.k)
            self.chains_v[:n], self.chains_h2[:n] = cv, ch2
        loss = d.energy(v, mu1, mu2).mean() - d.energy(cv, ch1, ch2).mean()
        return self.cfg.joint_lr_scale * loss

    def on_step_end(self, group: str) -> None:
        self.steps_done += 1
        if self._steps is not None:
            self._steps += 1

    @torch.no_grad()
    def on_train_end(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """AIS log Z from the base rate of the mean-field h1 over the training images."""
        mu1, _ = self.dbm.mean_field(x.flatten(1).float(), self.cfg.mf_iters)
        p = (mu1.mean(0) * len(mu1) + 0.5) / (len(mu1) + 1)
        self.base_bias.copy_((p / (1 - p)).log())
        runs = torch.stack([logmeanexp(self.dbm.ais_log_z(self.base_bias, self.cfg.ais_betas,
                                                          self.cfg.ais_runs))
                            for _ in range(self.cfg.ais_repeats)])
        self.log_z_runs.copy_(runs)
        self.log_z.copy_(runs.mean())

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,) nats
        return self.dbm.lower_bound(x.flatten(1), self.cfg.mf_iters_test, self.log_z)

    def summary_metrics(self) -> dict[str, float]:
        spread = float(self.log_z_runs.std()) if self.log_z_runs.numel() > 1 else 0.0
        return {"log_z": float(self.log_z), "log_z_std": spread}

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, H1)
        return self.dbm.mean_field(x.flatten(1), self.cfg.mf_iters)[0]

    def decode(self, h: torch.Tensor) -> torch.Tensor:  # (B, H1) -> (B, C, H, W)
        """The visible means P(v = 1 | h1) (v depends on h1 only)."""
        return self.dbm.p_v(h).view(-1, *self.shape)

    @torch.no_grad()
    def chain(self, n: int, steps: int, generator: torch.Generator | None = None,
              last_only: bool = False) -> torch.Tensor:
        """``n`` Gibbs chains from random binary states; the visible probabilities of every
        round (steps, n, C, H, W), or of the last one only (1, n, C, H, W)."""
        d = self.dbm
        v = _bernoulli(torch.full((n, self.dim), 0.5, device=self.device), generator)
        h2 = _bernoulli(torch.full((n, d.c2.numel()), 0.5, device=self.device), generator)
        out = []
        for _ in range(steps):
            h1 = _bernoulli(d.p_h1(v, h2), generator)
            p = d.p_v(h1)
            v, h2 = _bernoulli(p, generator), _bernoulli(d.p_h2(h1), generator)
            if not last_only:
                out.append(p.view(n, *self.shape))
        return p.view(1, n, *self.shape) if last_only else torch.stack(out)

    def _sample(self, n, generator, labels=None):
        return self.chain(n, self.cfg.sample_steps, generator, last_only=True)[0]
