"""Deep belief network (Hinton, Osindero & Teh 2006; seed 004 "DBN and DBM"): a greedy stack of
RBMs. Layer k is an RBM trained by (P)CD on samples of the hidden units of the frozen layers
below, for ``steps // 2`` engine steps each.

The generative model: the top two layers form an RBM P(h_{L-1}, h_L); every layer below is a
sigmoid belief net P(h_{k-1} | h_k) with the weights of RBM k. Sampling: ``sample_steps``
rounds of Gibbs sampling in the top RBM, then one downward pass of probabilities (Hinton et al.
2006, section 5), the chains starting from ``sample_init``: ``random`` binary h1, or the top
RBM's ``persistent`` chains (PCD's fantasy particles, Tieleman 2008; sample i continues chain
i mod batch_size): see :class:`genbench.models.rbm.RBMModel` for why they differ.

Test log-likelihood (two layers): the variational lower bound with the factorial recognition
q(h1|v) = σ(Wᵀv + c) of the first RBM (Salakhutdinov & Murray 2008, eq. 12):

    log P(v) ≥ E_q[log P(v|h1) − F_top(h1)] + H(q) − log Z_top,

E_q by ``bound_samples`` draws of h1, log Z_top of the top RBM by AIS. Labelled "lower bound
(variational) with an AIS log Z": AIS makes it an estimate of a bound.
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from genbench.core.config import Units
from genbench.core.errors import ConfigError
from genbench.models.base import Batch, GenerativeModel, OptimGroup, TrainableConfig
from genbench.models.registry import register
from genbench.nn.rbm import RBM, _bernoulli, check_sample_init, continue_chains, logmeanexp


@register("dbn")
class DBN(GenerativeModel):
    family = "Boltzmann machines and Markov chains"
    #: why DDP does not apply (genbench.core.distributed.blocker): trains in one process
    not_data_parallel = "its persistent Gibbs chains are per-rank state"
    #: bf16 vs fp32, the metric check (genbench.core.precision):
    #: bf16 bound 136.5 vs 126.7, above every fp32 seed (126.7/127.0/135.4)
    cpu_precision = "fp32"

    class Config(TrainableConfig):
        kind: Literal["dbn"] = "dbn"
        #: [h1, h2]; with ``tie_init`` only [h1]: the top RBM is then the first one upside
        #: down, so h2 has as many units as there are pixels
        hidden: list[Units] = Field(min_length=1, max_length=2)
        k: int = Field(default=1, ge=1)
        persistent: bool = True
        lr: float = Field(gt=0)
        momentum: float = Field(default=0.5, ge=0, lt=1)
        # linear: the rate decays to 0 over the whole run (the RBM's recipe), so the top RBM
        # ends at 0; decaying each layer's phase to 0 on its own gave 6 classes (seed 0)
        lr_schedule: Literal["constant", "linear"] = "linear"
        weight_decay: float = Field(default=1e-4, ge=0)
        sample_steps: int = Field(default=100, ge=1)  # Gibbs rounds in the top RBM
        sample_init: Literal["random", "persistent"] = "persistent"  # where those chains start
        bound_samples: int = Field(default=10, ge=1)  # h1 draws per test image
        ais_betas: int = Field(default=5000, ge=2)
        ais_runs: int = Field(default=100, ge=2)
        ais_repeats: int = Field(default=3, ge=1)
        #: start the top RBM as the transpose of the first: the bound starts at the first RBM's
        #: likelihood and greedy training can only raise it (Hinton et al. 2006)
        tie_init: bool = True

        @model_validator(mode="after")
        def _persistent_chains_exist(self):
            check_sample_init(self.sample_init, self.persistent)
            return self

    likelihood = "lower bound (variational) with an AIS log Z of the top RBM"

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if len(cfg.hidden) != (1 if cfg.tie_init else 2):
            raise ConfigError(f"hidden = {cfg.hidden}: two layer sizes [h1, h2], or only [h1] "
                              f"with tie_init (h2 = the number of pixels)")
        sizes = [self.dim, cfg.hidden[0], self.dim if cfg.tie_init else cfg.hidden[1]]
        if cfg.steps < 2:
            raise ConfigError(f"steps = {cfg.steps}: needs at least one step per layer")
        self.layers = nn.ModuleList(RBM(a, b) for a, b in itertools.pairwise(sizes))
        for i, n in enumerate(sizes[:-1]):  # PCD chains of each layer's RBM
            self.register_buffer(f"chains{i}", torch.zeros(cfg.batch_size, n))
        self.register_buffer("chains_ready", torch.zeros(2, dtype=torch.bool))
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        self._steps: int | None = None  # host copy of steps_done: no device sync per step
        self.register_buffer("base_bias", torch.zeros(cfg.hidden[0]))  # AIS base of the top RBM
        self.register_buffer("log_z", torch.zeros(()))
        self.register_buffer("log_z_runs", torch.zeros(cfg.ais_repeats))

    @property
    def input_transform(self) -> str:
        return "binary_dynamic"

    def optimizer_groups(self):
        # one group: only the layer being trained gets gradients, SGD skips the others
        return {"rbm": OptimGroup(list(self.layers.parameters()), self.cfg.lr,
                                  betas=(self.cfg.momentum, 0.999), optimizer="sgd",
                                  weight_decay=self.cfg.weight_decay,
                                  schedule=self.cfg.lr_schedule)}

    def phase(self) -> int:
        """The layer being trained greedily."""
        if self._steps is None:  # first call, after any resume has loaded the buffer
            self._steps = int(self.steps_done)
        per = self.cfg.steps // len(self.layers)
        return min(self._steps // per, len(self.layers) - 1)

    def _up(self, v: torch.Tensor, k: int) -> torch.Tensor:
        """Binary samples of layer k's input: v pushed up through the frozen layers below."""
        with torch.no_grad():
            for rbm in self.layers[:k]:
                v = torch.bernoulli(rbm.p_h(v))
        return v

    def on_train_start(self, x: torch.Tensor, y: torch.Tensor) -> None:
        v = x.flatten(1).float()
        p = (v.mean(0) * len(v) + 0.5) / (len(v) + 1)
        self.layers[0].b.data.copy_((p / (1 - p)).log())  # Hinton's guide: log p/(1-p)

    def losses(self, batch: Batch, group: str) -> dict[str, torch.Tensor]:
        k = self.phase()
        rbm = self.layers[k]
        v = self._up(batch.x.flatten(1), k)  # (B, n_k)
        chains = getattr(self, f"chains{k}")  # (batch_size, n_k)
        if not self.chains_ready[k]:  # this layer's first step
            if self.cfg.tie_init and k > 0:
                self._tie(k)
            chains[:len(v)] = v
            self.chains_ready[k] = True
        start = chains[:len(v)] if self.cfg.persistent else v
        with torch.no_grad():
            v_model = rbm.gibbs(start, self.cfg.k)
            if self.cfg.persistent:
                chains[:len(v)] = v_model
            recon = (rbm.p_v(rbm.p_h(v)) - v).pow(2).sum(1).mean()
        return {"loss": rbm.cd_loss(v, v_model), "recon_error": recon,
                "phase": torch.tensor(float(k), device=v.device)}

    @torch.no_grad()
    def _tie(self, k: int) -> None:
        """Layer k starts as layer k-1 upside down (W_k = W_{k-1}ᵀ, biases swapped): the DBN
        then equals the RBM below exactly, so its bound starts at that RBM's likelihood and
        greedy training of layer k can only improve the bound (Hinton et al. 2006, §4)."""
        below, layer = self.layers[k - 1], self.layers[k]
        layer.W.copy_(below.W.T)
        layer.b.copy_(below.c)
        layer.c.copy_(below.b)

    def on_step_end(self, group: str) -> None:
        self.steps_done += 1
        if self._steps is not None:
            self._steps += 1

    @torch.no_grad()
    def on_train_end(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """AIS log Z of the top RBM, from the base rate of h1 over the training images."""
        h1 = self.layers[0].p_h(x.flatten(1).float())
        p = (h1.mean(0) * len(h1) + 0.5) / (len(h1) + 1)
        self.base_bias.copy_((p / (1 - p)).log())
        top = self.layers[-1]
        runs = torch.stack([logmeanexp(top.ais_log_z(self.base_bias, self.cfg.ais_betas,
                                                     self.cfg.ais_runs))
                            for _ in range(self.cfg.ais_repeats)])
        self.log_z_runs.copy_(runs)
        self.log_z.copy_(runs.mean())

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,) nats
        v = x.flatten(1)
        bottom, top = self.layers[0], self.layers[-1]
        q = bottom.p_h(v)  # (B, H1) factorial recognition
        entropy = -(q * q.clamp_min(1e-12).log()
                    + (1 - q) * (1 - q).clamp_min(1e-12).log()).sum(1)
        total = torch.zeros(len(v), device=v.device)
        for _ in range(self.cfg.bound_samples):
            h1 = torch.bernoulli(q)
            logits = h1 @ bottom.W.T + bottom.b  # log P(v|h1): the belief-net layer
            log_pv = -F.binary_cross_entropy_with_logits(logits, v, reduction="none").sum(1)
            total += log_pv - top.free_energy(h1)
        return total / self.cfg.bound_samples + entropy - self.log_z

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, H1)
        """The first layer's hidden means q(h1 | v) (the recognition of the bound): the
        representation the clustering and probes use."""
        return self.layers[0].p_h(x.flatten(1))

    def decode(self, h: torch.Tensor) -> torch.Tensor:  # (B, H1) -> (B, C, H, W)
        """The belief net's downward pass P(v = 1 | h1)."""
        return self.layers[0].p_v(h).view(-1, *self.shape)

    def summary_metrics(self) -> dict[str, float]:
        spread = float(self.log_z_runs.std()) if self.log_z_runs.numel() > 1 else 0.0
        return {"log_z": float(self.log_z), "log_z_std": spread}

    def _sample(self, n, generator, labels=None):
        bottom, top = self.layers[0], self.layers[-1]
        if self.cfg.sample_init == "persistent":  # (n, H1): the top RBM's chains
            h1 = continue_chains(getattr(self, f"chains{len(self.layers) - 1}"), n)
        else:
            h1 = _bernoulli(torch.full((n, bottom.c.numel()), 0.5, device=self.device), generator)
        h1 = top.gibbs(h1, self.cfg.sample_steps, generator)  # chains in the top RBM
        return bottom.p_v(h1).view(n, *self.shape)  # the downward pass, probabilities
