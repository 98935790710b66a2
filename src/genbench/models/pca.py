"""PCA as a linear autoencoder and as probabilistic PCA (Tipping & Bishop 1999; seed 000,
"Continuous Latent Variables: Probabilistic PCA" and "Linear Autoencoder").

Encoder ``h = V_hᵀ(x - μ)``, decoder ``x̂ = μ + V_h h`` with ``V_h`` the top right-singular
vectors of the centred data. As a density: ``P(x) = N(μ, W Wᵀ + σ² I)`` with
``W = V_h (Λ_h - σ² I)^½`` and σ² the mean discarded variance; sampling ``x = μ + W h + σ ε``.
Variances use the unbiased (N - 1) covariance, as scikit-learn's ``PCA`` does, so
:meth:`log_likelihood` equals ``PCA.score_samples``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from pydantic import Field

from genbench.models.base import GenerativeModel, ModelConfig
from genbench.models.registry import register


@register("pca")
class PCA(GenerativeModel):
    family = "Linear models and mixtures"
    class Config(ModelConfig):
        kind: Literal["pca"] = "pca"
        gate: bool = False  # exempt: its samples' limits are the lecture's point
        latent_dim: int = Field(ge=1)

    likelihood = "exact (Gaussian density on [0,1] pixels)"

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if cfg.latent_dim >= self.dim:
            from genbench.core.errors import ConfigError

            raise ConfigError(f"latent_dim = {cfg.latent_dim}: must be < the data dimension "
                              f"{self.dim}")
        q = cfg.latent_dim
        self.register_buffer("mean", torch.zeros(self.dim))
        self.register_buffer("components", torch.zeros(self.dim, q))  # V_h (D, q), orthonormal
        self.register_buffer("eigvals", torch.ones(q))  # Λ_h (q,)
        self.register_buffer("sigma2", torch.ones(()))  # σ²

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        X = x.flatten(1).double()  # (N, D)
        n = X.shape[0]
        if n <= self.cfg.latent_dim:
            from genbench.core.errors import ConfigError

            raise ConfigError(f"latent_dim = {self.cfg.latent_dim}: must be < the number of "
                              f"training images ({n})")
        mean = X.mean(0)
        Xc = X - mean
        _, S, Vt = torch.linalg.svd(Xc, full_matrices=False)  # X = U D Vᵀ (seed 000)
        var = S.pow(2) / (n - 1)
        q = self.cfg.latent_dim
        total = Xc.pow(2).sum() / (n - 1)  # trace of the covariance: all D eigenvalues
        sigma2 = ((total - var[:q].sum()) / (self.dim - q)).clamp_min(1e-12)
        self.mean.copy_(mean.float())
        self.components.copy_(Vt[:q].T.float())
        self.eigvals.copy_(var[:q].float())
        self.sigma2.copy_(sigma2.float())
        mse = (self.reconstruct(x) - x).pow(2).mean()
        return {"loss": float(mse), "sigma2": float(sigma2),
                "explained_variance": float(var[:q].sum() / total)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, q)
        return (x.flatten(1) - self.mean) @ self.components

    def decode(self, h: torch.Tensor) -> torch.Tensor:  # (B, q) -> (B, C, H, W)
        return (h @ self.components.T + self.mean).view(-1, *self.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def _sample(self, n, generator, labels=None):
        scale = (self.eigvals - self.sigma2).clamp_min(0).sqrt()  # W = V_h (Λ_h - σ²I)^½
        h = self.randn(n, self.cfg.latent_dim, generator=generator)
        eps = self.randn(n, self.dim, generator=generator)
        x = self.mean + (h * scale) @ self.components.T + self.sigma2.sqrt() * eps
        return x.view(n, *self.shape)

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; μ, WWᵀ + σ²I) per image via the Woodbury identity. (B, C, H, W) -> (B,)"""
        r = (x.flatten(1) - self.mean).double()  # (B, D)
        V, lam, s2 = self.components.double(), self.eigvals.double(), self.sigma2.double()
        proj = r @ V  # (B, q)
        # C⁻¹ = (I - V diag(1 - σ²/λ) Vᵀ) / σ²  ;  log|C| = Σ log λ + (D - q) log σ²
        maha = (r.pow(2).sum(1) - (proj.pow(2) * (1 - s2 / lam)).sum(1)) / s2
        logdet = lam.log().sum() + (self.dim - lam.numel()) * s2.log()
        return (-0.5 * (self.dim * math.log(2 * math.pi) + logdet + maha)).float()
