"""Mixture models fitted by EM (seed 000, "Probabilistic Mixture Models"):
P(x) = Σ_k π_k P(x | k) with H components of one of the seed's two families,

- ``bernoulli``: P(x | k) = Π_d μ_kd^x_d (1 − μ_kd)^(1 − x_d) on binarised pixels (Bishop 2006
  §9.3.3); the M step keeps μ away from 0 and 1 with a Beta(α, α) prior, so a test pixel never
  gets probability zero;
- ``gaussian``: P(x | k) = N(x; m_k, diag v_k) on [0, 1] pixels; ``reg_covar`` is added to every
  variance, as scikit-learn's ``GaussianMixture`` does (a test checks EM against it step by step).

Fitting is closed form through the engine's ``fit`` path (no optimizer groups): ``iterations``
EM steps on the whole train split as one tensor, from the initialisation scikit-learn's
``GaussianMixture`` uses: ``init: kmeans`` (default) = k-means++ seeding (Arthur & Vassilvitskii
2007) refined by Lloyd's k-means, its hard assignment as the first responsibilities;
``k-means++`` = the seeding alone, each image to its nearest seed; ``random`` = a random hard
assignment. ``n_init`` restarts (each from a new seeded initialisation) keep the one with the
best final train log-likelihood, as ``GaussianMixture(n_init=...)`` does. Sampling draws the component first, then the pixels; with
``sample_mean`` (default) the drawn component's mean image, as the VAE shows its decoder's
Bernoulli means rather than binary draws.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field

from genbench.models.base import GenerativeModel, ModelConfig
from genbench.models.registry import register


@register("gmm")
class MixtureModel(GenerativeModel):
    family = "Linear models and mixtures"
    class Config(ModelConfig):
        kind: Literal["gmm"] = "gmm"
        gate: bool = False  # exempt: its samples' limits are the lecture's point
        family: Literal["bernoulli", "gaussian"] = "bernoulli"
        components: int = Field(ge=1)  # H
        iterations: int = Field(default=50, ge=1)  # EM steps
        prior: float = Field(default=1.0, ge=0)  # α of the Beta(α, α) prior on μ (bernoulli)
        reg_covar: float = Field(default=1e-3, ge=0)  # added to each variance (gaussian)
        tol: float = Field(default=0.0, ge=0)  # stop when the mean log-likelihood gains < tol
        init: Literal["kmeans", "k-means++", "random"] = "kmeans"  # first responsibilities
        n_init: int = Field(default=3, ge=1)  # restarts; the best final likelihood is kept
        kmeans_iterations: int = Field(default=100, ge=0)  # Lloyd steps of init: kmeans
        sample_mean: bool = True  # samples: the component's mean image (False: draw the pixels)

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        h, f64 = cfg.components, torch.float64  # float64: log-likelihoods summed over 784 pixels
        self.register_buffer("log_weights", torch.full((h,), -math.log(h), dtype=f64))  # log π
        self.register_buffer("means", torch.full((h, self.dim), 0.5, dtype=f64))  # μ or m (H, D)
        self.register_buffer("variances", torch.ones(h, self.dim, dtype=f64))  # v (gaussian)

    likelihood = "exact"

    @property
    def input_transform(self) -> str:
        return "binary_static" if self.cfg.family == "bernoulli" else "unit"

    # --- EM ---------------------------------------------------------------------------------
    def component_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log P(x | k) for every image and component. (N, D) -> (N, H)"""
        x = x.double()
        if self.cfg.family == "bernoulli":
            mu = self.means.double()
            return x @ mu.log().T + (1 - x) @ torch.log1p(-mu).T
        m, v = self.means.double(), self.variances.double()
        prec = 1 / v  # (H, D)
        # Σ_d (x - m)² / v expanded so that no (N, H, D) tensor is formed
        maha = (x * x) @ prec.T - 2 * x @ (m * prec).T + (m * m * prec).sum(1)
        return -0.5 * (self.dim * math.log(2 * math.pi) + v.log().sum(1) + maha)

    def _e_step(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(responsibilities (N, H), log P(x) (N,))"""
        joint = self.component_log_prob(x) + self.log_weights.double()
        log_px = torch.logsumexp(joint, 1)
        return (joint - log_px[:, None]).exp(), log_px

    def _m_step(self, x: torch.Tensor, resp: torch.Tensor) -> None:
        x = x.double()
        nk = resp.sum(0) + 10 * torch.finfo(torch.float64).eps  # (H,) as scikit-learn
        self.log_weights.copy_((nk / nk.sum()).log())
        if self.cfg.family == "bernoulli":
            a = self.cfg.prior
            mu = (resp.T @ x + a) / (nk[:, None] + 2 * a)
            self.means.copy_(mu.clamp(1e-6, 1 - 1e-6))
            return
        m = resp.T @ x / nk[:, None]  # (H, D)
        var = resp.T @ (x * x) / nk[:, None] - 2 * m * (resp.T @ x) / nk[:, None] + m * m
        self.means.copy_(m)
        self.variances.copy_(var + self.cfg.reg_covar)

    def init_from_responsibilities(self, x: torch.Tensor, resp: torch.Tensor) -> None:
        """Parameters from given responsibilities (N, H): the first M step."""
        self._m_step(x.flatten(1), resp.double())

    def em(self, x: torch.Tensor, iterations: int) -> list[float]:
        """``iterations`` EM steps on (N, D) data; the mean log-likelihood before each M step."""
        history = []
        for _ in range(iterations):
            resp, log_px = self._e_step(x)
            history.append(float(log_px.mean()))
            if self.cfg.tol and len(history) > 1 and history[-1] - history[-2] < self.cfg.tol:
                break
            self._m_step(x, resp)
        return history

    def _initial_assignment(self, X: torch.Tensor) -> torch.Tensor:
        """Component of each image (N,) for the first M step, drawn from torch's global RNG
        (the engine seeds it)."""
        n, h = X.shape[0], self.cfg.components
        if self.cfg.init == "random" or n <= h:
            # every component gets an image when n ≥ H; otherwise the empty ones keep weight
            # ~0 and are never sampled
            return torch.randperm(n, device=X.device) % h
        centres = kmeans_plus_plus(X, h)
        if self.cfg.init == "kmeans":
            centres = lloyd(X, centres, self.cfg.kmeans_iterations)
        return _sq_distances(X, centres).argmin(1)

    def _fit_once(self, X: torch.Tensor) -> list[float]:
        resp = torch.nn.functional.one_hot(self._initial_assignment(X),
                                           self.cfg.components).double()
        self._m_step(X, resp)
        return self.em(X, self.cfg.iterations)

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        X = x.flatten(1).double()  # (N, D)
        best = None  # (final mean log-likelihood, parameters, history)
        finals = []
        for _ in range(self.cfg.n_init):
            history = self._fit_once(X)
            final = float(self._e_step(X)[1].mean())
            finals.append(final)
            if best is None or final > best[0]:
                best = (final, [b.clone() for b in self.buffers()], history)
        for b, kept in zip(self.buffers(), best[1]):
            b.copy_(kept)
        final, _, history = best
        return {"loss": -final, "train_log_likelihood": final, "em_iterations": len(history),
                "first_log_likelihood": history[0] if history else float("nan"),
                "restarts": self.cfg.n_init, "worst_restart_log_likelihood": min(finals)}

    # --- the model contract -----------------------------------------------------------------
    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B,) nats
        return self._e_step(x.flatten(1))[1].float()

    def _sample(self, n, generator, labels=None):
        k = torch.multinomial(self.log_weights.exp().cpu().float(), n, replacement=True,
                              generator=generator).to(self.device)  # (n,) components
        if self.cfg.sample_mean:
            x = self.means[k].float()
        elif self.cfg.family == "bernoulli":
            u = torch.rand(n, self.dim, generator=generator).to(self.device)
            x = (u < self.means[k]).float()
        else:
            eps = self.randn(n, self.dim, generator=generator)
            x = (self.means[k] + self.variances[k].sqrt() * eps).float()
        return x.view(n, *self.shape)


# --- k-means initialisation ---------------------------------------------------------------------
def _sq_distances(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances. (N, D), (K, D) -> (N, K)"""
    return ((x * x).sum(1, keepdim=True) - 2 * x @ c.T + (c * c).sum(1)).clamp_min(0)


def kmeans_plus_plus(x: torch.Tensor, k: int) -> torch.Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre uniformly, each next
    one with probability ∝ its squared distance to the nearest chosen centre. (N, D) -> (k, D)"""
    n = x.shape[0]
    idx = [int(torch.randint(n, (1,)))]
    d2 = _sq_distances(x, x[idx]).squeeze(1)  # (N,) to the nearest centre so far
    for _ in range(1, k):
        p = d2 / d2.sum() if float(d2.sum()) > 0 else torch.full_like(d2, 1.0 / n)
        i = int(torch.multinomial(p.float().cpu(), 1))
        idx.append(i)
        d2 = torch.minimum(d2, _sq_distances(x, x[i:i + 1]).squeeze(1))
    return x[idx].clone()


def lloyd(x: torch.Tensor, centres: torch.Tensor, iterations: int) -> torch.Tensor:
    """Lloyd's k-means from ``centres`` until the assignment stops changing (at most
    ``iterations`` steps); an emptied cluster keeps its centre. (N, D), (K, D) -> (K, D)"""
    assign = None
    for _ in range(iterations):
        new = _sq_distances(x, centres).argmin(1)  # (N,)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        onehot = torch.nn.functional.one_hot(assign, len(centres)).to(x.dtype)  # (N, K)
        counts = onehot.sum(0)  # (K,)
        sums = onehot.T @ x  # (K, D)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
    return centres
