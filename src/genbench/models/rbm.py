"""Bernoulli RBM (seed 004 "DBN and DBM"; Hinton 2002 for CD-k, Tieleman 2008 for persistent CD,
Salakhutdinov & Murray 2008 for the AIS test log-likelihood) on binarised pixels.

Training: the engine steps the single group on F(v_data) − F(v_model) (see
:class:`genbench.nn.rbm.RBM`), with v_model after ``k`` Gibbs steps from the batch (CD-k) or
from ``persistent`` chains kept in a buffer (PCD). Sampling: ``sample_steps`` rounds of Gibbs
sampling, returning the last visible probabilities (as the VAE shows its decoder's means), from
``sample_init``: ``random`` binary images, or the ``persistent`` chains' final states (PCD's
"fantasy particles", Tieleman 2008; sample i continues chain i mod batch_size). The two differ
when the chains mix slowly: a chain run long from anywhere drifts to the model's spurious modes,
while the persistent chains, moved by every update, track the data (the conf file has the
measurements). Test log-likelihood: log P(v) = −F(v) − log Z with log Z from AIS;
``ais_repeats`` independent AIS runs give the estimate's spread (written to the metrics), the
mean estimate is used. AIS under-estimates log Z on average, so the NLL is an estimate (it
may be optimistic), not a bound: the report says so.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator

from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.models.registry import register
from genbench.nn.rbm import RBM, _bernoulli, check_sample_init, continue_chains, logmeanexp


@register("rbm")
class RBMModel(GenerativeModel):
    family = "Boltzmann machines and Markov chains"
    #: why DDP does not apply (genbench.core.distributed.blocker): trains in one process
    not_data_parallel = "its persistent Gibbs chains are per-rank state"
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: AIS NLL 129.8 vs 139.8 (seeds 139.8/124.0/127.0)
    cpu_precision = "bf16"

    class Config(TrainableConfig):
        kind: Literal["rbm"] = "rbm"
        hidden: int = Field(ge=1)
        k: int = Field(default=1, ge=1)  # Gibbs steps per update (CD-k / PCD-k)
        persistent: bool = True  # PCD: chains continue across updates
        lr: float = Field(gt=0)
        momentum: float = Field(default=0.5, ge=0, lt=1)  # SGD momentum (Hinton's guide)
        lr_schedule: Literal["constant", "linear"] = "linear"  # linear: to 0 at the end
        weight_decay: float = Field(default=1e-4, ge=0)
        sample_steps: int = Field(default=100, ge=1)  # Gibbs rounds per sample
        sample_init: Literal["random", "persistent"] = "persistent"  # where sampling chains start
        ais_betas: int = Field(default=5000, ge=2)
        ais_runs: int = Field(default=100, ge=2)
        ais_repeats: int = Field(default=3, ge=1)

        @model_validator(mode="after")
        def _persistent_chains_exist(self):
            check_sample_init(self.sample_init, self.persistent)
            return self

    likelihood = "AIS estimate of log Z (not a bound)"

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        self.rbm = RBM(self.dim, cfg.hidden)
        self.register_buffer("chains", torch.zeros(cfg.batch_size, self.dim))  # PCD state
        self.register_buffer("base_bias", torch.zeros(self.dim))  # AIS base rate b_A
        self.register_buffer("log_z", torch.zeros(()))  # mean AIS estimate, set at train end
        self.register_buffer("log_z_runs", torch.zeros(cfg.ais_repeats))  # one per repeat

    @property
    def input_transform(self) -> str:
        return "binary_dynamic"

    def optimizer_groups(self):
        return {"rbm": OptimGroup(list(self.rbm.parameters()), self.cfg.lr,
                                  betas=(self.cfg.momentum, 0.999),  # SGD: betas[0] = momentum
                                  optimizer="sgd", weight_decay=self.cfg.weight_decay,
                                  schedule=self.cfg.lr_schedule)}

    def on_train_start(self, x: torch.Tensor, y: torch.Tensor) -> None:
        v = x.flatten(1).float()
        # base rate: the data's pixel marginals, smoothed (Salakhutdinov & Murray 2008)
        p = (v.mean(0) * len(v) + 0.5) / (len(v) + 1)
        self.base_bias.copy_((p / (1 - p)).log())
        self.rbm.b.data.copy_(self.base_bias)  # Hinton's guide: visible biases log p/(1-p)
        if self.cfg.persistent:
            self.chains.copy_(v[torch.randint(len(v), (self.cfg.batch_size,), device=v.device)])

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        v = batch.x.flatten(1)  # (B, V) binary
        start = self.chains[:len(v)] if self.cfg.persistent else v
        with torch.no_grad():
            v_model = self.rbm.gibbs(start, self.cfg.k)
            if self.cfg.persistent:
                self.chains[:len(v)] = v_model
            recon = (self.rbm.p_v(self.rbm.p_h(v)) - v).pow(2).sum(1).mean()
        return {"loss": self.rbm.cd_loss(v, v_model), "recon_error": recon}

    @torch.no_grad()
    def on_train_end(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Estimate log Z once (``ais_repeats`` independent runs), stored with the weights."""
        runs = torch.stack([logmeanexp(self.rbm.ais_log_z(self.base_bias, self.cfg.ais_betas,
                                                           self.cfg.ais_runs))
                            for _ in range(self.cfg.ais_repeats)])
        self.log_z_runs.copy_(runs)
        self.log_z.copy_(runs.mean())

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,) nats
        return -self.rbm.free_energy(x.flatten(1)) - self.log_z

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, H)
        """The hidden means P(h = 1 | v): the representation the clustering and probes use."""
        return self.rbm.p_h(x.flatten(1))

    def decode(self, h: torch.Tensor) -> torch.Tensor:  # (B, H) -> (B, C, H, W)
        """The visible means P(v = 1 | h) of hidden states or means (the mean-field downward
        pass: encode then decode is the RBM's one-step reconstruction)."""
        return self.rbm.p_v(h).view(-1, *self.shape)

    def summary_metrics(self) -> dict[str, float]:
        """The AIS log Z and its spread over the repeats (reported next to the NLL)."""
        spread = float(self.log_z_runs.std()) if self.log_z_runs.numel() > 1 else 0.0
        return {"log_z": float(self.log_z), "log_z_std": spread}

    @torch.no_grad()
    def chain(self, n: int, steps: int, generator: torch.Generator | None = None,
              last_only: bool = False, start: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` Gibbs chains from ``start`` (n, V) or random binary images; the visible
        probabilities of every round (steps, n, C, H, W), or of the last one only
        (1, n, C, H, W)."""
        if start is None:
            start = _bernoulli(torch.full((n, self.dim), 0.5, device=self.device), generator)
        v = start
        out = []
        for _ in range(steps):
            p = self.rbm.p_v(_bernoulli(self.rbm.p_h(v), generator))
            v = _bernoulli(p, generator)
            if not last_only:
                out.append(p.view(n, *self.shape))
        return p.view(1, n, *self.shape) if last_only else torch.stack(out)

    def _sample(self, n, generator, labels=None):
        start = None
        if self.cfg.sample_init == "persistent":  # (n, V) binary
            start = continue_chains(self.chains, n)
        return self.chain(n, self.cfg.sample_steps, generator, last_only=True, start=start)[0]
