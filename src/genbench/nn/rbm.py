"""The Bernoulli restricted Boltzmann machine as a layer (seed 004 "DBN and DBM"; Hinton 2002,
Salakhutdinov & Murray 2008), shared by ``rbm`` and the layers of ``dbn``.

    E(v, h) = −bᵀv − cᵀh − vᵀWh,   F(v) = −bᵀv − Σ_j softplus(c_j + W_j·v),
    P(v) = exp(−F(v)) / Z.

Training by contrastive divergence: the engine backpropagates F(v_data) − F(v_model) averaged
over the batch, whose gradient is the CD update (positive minus negative statistics); v_model
comes from k Gibbs steps started at the data (CD-k) or from persistent chains (PCD).
``ais_log_z`` estimates log Z by annealed importance sampling from the base-rate RBM (W = 0,
visible biases fitted to the data's pixel means); ``exact_log_z`` enumerates the hidden states
of a small RBM (the test of AIS).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn


class RBM(nn.Module):
    def __init__(self, visible: int, hidden: int, init_std: float = 0.01):
        super().__init__()
        self.W = nn.Parameter(torch.randn(visible, hidden) * init_std)  # (V, H)
        self.b = nn.Parameter(torch.zeros(visible))  # visible biases
        self.c = nn.Parameter(torch.zeros(hidden))  # hidden biases

    # --- conditionals -------------------------------------------------------------------------
    def p_h(self, v: torch.Tensor, beta: float = 1.0) -> torch.Tensor:  # (N, V) -> (N, H)
        return torch.sigmoid(beta * (v @ self.W + self.c))

    def p_v(self, h: torch.Tensor, beta: float = 1.0,
            base: torch.Tensor | None = None) -> torch.Tensor:  # (N, H) -> (N, V)
        act = beta * (h @ self.W.T + self.b)
        if base is not None:  # AIS: the base-rate model's share (1 − β) b_A
            act = act + (1 - beta) * base
        return torch.sigmoid(act)

    def gibbs(self, v: torch.Tensor, steps: int, generator: torch.Generator | None = None
              ) -> torch.Tensor:
        """``steps`` rounds v -> h -> v of block Gibbs sampling; returns binary v. (N, V)"""
        for _ in range(steps):
            h = _bernoulli(self.p_h(v), generator)
            v = _bernoulli(self.p_v(h), generator)
        return v

    # --- energies -----------------------------------------------------------------------------
    def free_energy(self, v: torch.Tensor) -> torch.Tensor:  # (N, V) -> (N,)
        return -(v @ self.b) - F.softplus(v @ self.W + self.c).sum(1)

    def free_energy_h(self, h: torch.Tensor) -> torch.Tensor:
        """Free energy of the hidden layer with v summed out. (N, H) -> (N,)"""
        return -(h @ self.c) - F.softplus(h @ self.W.T + self.b).sum(1)

    def cd_loss(self, v_data: torch.Tensor, v_model: torch.Tensor) -> torch.Tensor:
        """Mean F(v_data) − F(v_model): its gradient is the (P)CD update; v_model detached."""
        return self.free_energy(v_data).mean() - self.free_energy(v_model.detach()).mean()

    # --- partition function -------------------------------------------------------------------
    @torch.no_grad()
    def exact_log_z(self) -> torch.Tensor:
        """log Z by enumerating the 2^H hidden states (H ≤ 20)."""
        hidden = self.c.numel()
        if hidden > 20:
            raise ValueError(f"exact log Z enumerates 2^{hidden} states: at most 20 hidden units")
        codes = torch.arange(2 ** hidden, device=self.c.device)
        h = ((codes[:, None] >> torch.arange(hidden, device=codes.device)) & 1).to(self.W.dtype)
        return torch.logsumexp(-self.free_energy_h(h), 0)

    @torch.no_grad()
    def ais_log_z(self, base_bias: torch.Tensor, betas: int, runs: int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """AIS estimates of log Z (Salakhutdinov & Murray 2008): ``runs`` chains annealed over
        ``betas`` temperatures from the base-rate model P_A(v) ∝ exp(b_Aᵀv) (W = 0, c = 0).
        Returns the per-run log importance weights + log Z_A, (runs,): log Z ≈ logmeanexp."""
        b_a = base_bias.to(self.W.dtype)
        hidden = self.c.numel()
        log_z_a = F.softplus(b_a).sum() + hidden * math.log(2)
        grid = torch.linspace(0, 1, betas, dtype=torch.float64).tolist()
        v = _bernoulli(torch.sigmoid(b_a).expand(runs, -1), generator)  # exact draws of P_A
        log_w = torch.zeros(runs, dtype=self.W.dtype, device=self.W.device)
        for prev, beta in itertools.pairwise(grid):
            log_w += self._log_p_star(v, beta, b_a) - self._log_p_star(v, prev, b_a)
            h = _bernoulli(self.p_h(v, beta), generator)  # a Gibbs step that keeps P_beta
            v = _bernoulli(self.p_v(h, beta, b_a), generator)
        return log_w + log_z_a

    def _log_p_star(self, v: torch.Tensor, beta: float, b_a: torch.Tensor) -> torch.Tensor:
        """log of the unnormalised P_beta(v) with h summed out. (N, V) -> (N,)"""
        return ((1 - beta) * (v @ b_a) + beta * (v @ self.b)
                + F.softplus(beta * (v @ self.W + self.c)).sum(1))


def check_sample_init(sample_init: str, persistent: bool) -> None:
    """Sampling from the persistent chains (``sample_init: persistent``) needs PCD's chains."""
    if sample_init == "persistent" and not persistent:
        raise ValueError("sample_init = persistent needs persistent: true (PCD chains)")


def continue_chains(chains: torch.Tensor, n: int) -> torch.Tensor:
    """(n, D) starting states from the (B, D) persistent chains: sample i continues chain
    i mod B (PCD's fantasy particles, Tieleman 2008), so n > B repeats the chains' states."""
    return chains[torch.arange(n, device=chains.device) % len(chains)]


def _bernoulli(p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Bernoulli draws; with ``generator`` the uniforms come from it on the CPU (reproducible on
    any device), else from the global RNG on p's device."""
    if generator is None:
        return torch.bernoulli(p)
    u = torch.rand(p.shape, generator=generator, dtype=p.dtype).to(p.device)
    return (u < p).to(p.dtype)


def logmeanexp(x: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(x, 0) - math.log(x.numel())
