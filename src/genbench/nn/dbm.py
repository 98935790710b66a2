"""The two-hidden-layer Bernoulli Deep Boltzmann Machine (Salakhutdinov & Hinton 2009; seed 004
"DBN and DBM"), as a layer shared by the ``dbm`` model and its tests.

    E(v, h1, h2) = −bᵀv − c1ᵀh1 − c2ᵀh2 − vᵀW1h1 − h1ᵀW2h2.

Unlike the DBN every connection is undirected, so h1's posterior depends on v *and* h2 and is
not factorial: the data term of learning uses the mean-field approximation q(h1)q(h2) (fixed
point of μ1 = σ(W1ᵀv + W2μ2 + c1), μ2 = σ(W2ᵀμ1 + c2)), the model term persistent Gibbs chains
(v and h2 are conditionally independent given h1: one Gibbs round samples h1 | v, h2, then
v, h2 | h1).

Likelihood (S&H 2009, §3): the variational lower bound of the mean-field q,

    log P(v) ≥ E_q[−E(v, h1, h2)] + H(q) − log Z,

where E_q[−E] is the energy at the means (E is linear in each layer and q is factorial). log Z:
v and h2 sum out given h1, so the unnormalised marginal

    log P*(h1) = c1ᵀh1 + Σ_i softplus(b_i + W1_i·h1) + Σ_m softplus(c2_m + W2_·m·h1)

is exact, and AIS anneals over h1 from a factorial base-rate model (as for the RBM:
Salakhutdinov & Murray 2008), the transition being the Gibbs round v, h2 | h1 then h1 | v, h2
at inverse temperature β. ``exact_log_z`` and ``exact_log_p`` enumerate h1 (≤ 20 units) for
the tests.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from genbench.nn.rbm import _bernoulli


class DBM(nn.Module):
    def __init__(self, visible: int, hidden1: int, hidden2: int, init_std: float = 0.01):
        super().__init__()
        self.W1 = nn.Parameter(torch.randn(visible, hidden1) * init_std)  # (V, H1)
        self.W2 = nn.Parameter(torch.randn(hidden1, hidden2) * init_std)  # (H1, H2)
        self.b = nn.Parameter(torch.zeros(visible))
        self.c1 = nn.Parameter(torch.zeros(hidden1))
        self.c2 = nn.Parameter(torch.zeros(hidden2))

    # --- conditionals (β: AIS's inverse temperature; 1 = the model) ---------------------------
    def p_h1(self, v, h2, beta: float = 1.0, base=None):  # (N, V), (N, H2) -> (N, H1)
        act = beta * (v @ self.W1 + h2 @ self.W2.T + self.c1)
        if base is not None:  # AIS: the base-rate model's share (1 − β) b_A
            act = act + (1 - beta) * base
        return torch.sigmoid(act)

    def p_v(self, h1, beta: float = 1.0):  # (N, H1) -> (N, V)
        return torch.sigmoid(beta * (h1 @ self.W1.T + self.b))

    def p_h2(self, h1, beta: float = 1.0):  # (N, H1) -> (N, H2)
        return torch.sigmoid(beta * (h1 @ self.W2 + self.c2))

    # --- energy and mean field -------------------------------------------------------------
    def energy(self, v, h1, h2) -> torch.Tensor:
        """E(v, h1, h2) per row; with means in place of states it is E_q[E] (q factorial). (N,)"""
        return -(v @ self.b + h1 @ self.c1 + h2 @ self.c2
                 + ((v @ self.W1) * h1).sum(1) + ((h1 @ self.W2) * h2).sum(1))

    def mean_field(self, v: torch.Tensor, iters: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The mean-field fixed point (μ1, μ2) of q(h1, h2 | v) after ``iters`` rounds, started
        from the bottom-up pass with doubled input (S&H 2009: the recognition pass of the
        pretrained stack)."""
        mu1 = torch.sigmoid(2 * (v @ self.W1) + self.c1)
        mu2 = self.p_h2(mu1)
        for _ in range(iters):
            mu1 = self.p_h1(v, mu2)
            mu2 = self.p_h2(mu1)
        return mu1, mu2

    def gibbs(self, v, h2, steps: int, generator=None):
        """``steps`` rounds h1 | v, h2 then (v, h2) | h1; binary states."""
        for _ in range(steps):
            h1 = _bernoulli(self.p_h1(v, h2), generator)
            v = _bernoulli(self.p_v(h1), generator)
            h2 = _bernoulli(self.p_h2(h1), generator)
        return v, h1, h2

    def lower_bound(self, v: torch.Tensor, iters: int, log_z) -> torch.Tensor:
        """The variational lower bound of log P(v) with the mean-field q. (N, V) -> (N,)"""
        mu1, mu2 = self.mean_field(v, iters)
        return -self.energy(v, mu1, mu2) + _entropy(mu1) + _entropy(mu2) - log_z

    # --- partition function ----------------------------------------------------------------
    def log_p_star_h1(self, h1: torch.Tensor, beta: float = 1.0, base=None) -> torch.Tensor:
        """log P*_β(h1) with v and h2 summed out. (N, H1) -> (N,)"""
        out = beta * (h1 @ self.c1) + F.softplus(beta * (h1 @ self.W1.T + self.b)).sum(1) \
            + F.softplus(beta * (h1 @ self.W2 + self.c2)).sum(1)
        if base is not None:
            out = out + (1 - beta) * (h1 @ base)
        return out

    @torch.no_grad()
    def ais_log_z(self, base_bias: torch.Tensor, betas: int, runs: int, generator=None):
        """Per-run AIS estimates of log Z (``runs``,): anneal h1 from the factorial base
        P_A(h1) ∝ exp(b_Aᵀh1) to the DBM's marginal over ``betas`` temperatures. At β the model
        is the DBM with energies scaled by β plus (1 − β) b_Aᵀh1, so a Gibbs round keeps it;
        log Z_A = Σ softplus(b_A) + (V + H2) log 2 (v and h2 are free at β = 0).
        log Z ≈ logmeanexp of the result (an unbiased estimate of Z: log Z is on average
        under-estimated)."""
        b_a = base_bias.to(self.W1.dtype)
        v_n, h2_n = self.b.numel(), self.c2.numel()
        log_z_a = F.softplus(b_a).sum() + (v_n + h2_n) * math.log(2)
        grid = torch.linspace(0, 1, betas, dtype=torch.float64).tolist()
        h1 = _bernoulli(torch.sigmoid(b_a).expand(runs, -1), generator)  # exact draws of P_A
        log_w = torch.zeros(runs, dtype=self.W1.dtype, device=self.W1.device)
        for prev, beta in itertools.pairwise(grid):
            log_w += self.log_p_star_h1(h1, beta, b_a) - self.log_p_star_h1(h1, prev, b_a)
            v = _bernoulli(self.p_v(h1, beta), generator)
            h2 = _bernoulli(self.p_h2(h1, beta), generator)
            h1 = _bernoulli(self.p_h1(v, h2, beta, b_a), generator)
        return log_w + log_z_a

    def _all_h1(self) -> torch.Tensor:
        hidden = self.c1.numel()
        if hidden > 20:
            raise ValueError(f"enumeration of 2^{hidden} states of h1: at most 20 units")
        codes = torch.arange(2 ** hidden, device=self.c1.device)
        return ((codes[:, None] >> torch.arange(hidden, device=codes.device)) & 1).to(
            self.W1.dtype)  # (2^H1, H1)

    @torch.no_grad()
    def exact_log_z(self) -> torch.Tensor:
        """log Z by enumerating h1 (v and h2 summed out in closed form)."""
        return torch.logsumexp(self.log_p_star_h1(self._all_h1()), 0)

    @torch.no_grad()
    def exact_posterior(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Exact log P(v) (N,) and marginals P(h1_j = 1 | v) (N, H1), P(h2_m = 1 | v) (N, H2)
        by enumerating h1 (h2 summed out given h1)."""
        h1 = self._all_h1()  # (S, H1)
        # log P*(v, h1) = bᵀv + vᵀW1h1 + c1ᵀh1 + Σ_m softplus(c2 + W2ᵀh1)   (N, S)
        joint = (v @ self.b)[:, None] + v @ self.W1 @ h1.T + (h1 @ self.c1)[None] \
            + F.softplus(h1 @ self.W2 + self.c2).sum(1)[None]
        log_pv = torch.logsumexp(joint, 1)
        post = (joint - log_pv[:, None]).exp()  # P(h1 | v)  (N, S)
        return log_pv - self.exact_log_z(), post @ h1, post @ self.p_h2(h1)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of factorial Bernoulli means. (N, H) -> (N,)"""
    return -(p * p.clamp_min(1e-12).log() + (1 - p) * (1 - p).clamp_min(1e-12).log()).sum(1)
