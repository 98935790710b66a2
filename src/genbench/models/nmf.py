"""Non-negative matrix factorisation (Lee & Seung 1999, "Learning the parts of objects by
non-negative matrix factorization"; Wu's *Unsupervised Learning*, "NMF"), X ≈ H W with X
(N, D) the [0, 1] pixels, W (k, D) ≥ 0 the parts and H (N, k) ≥ 0 the codes.

Fit: scikit-learn's ``NMF`` (Frobenius loss, coordinate descent, NNDSVDa initialisation:
``sklearn.decomposition.NMF(init="nndsvda", solver="cd")``) on the train split. ``encode``:
the codes of new images under the fixed parts by Lee & Seung's (2001) multiplicative updates
h ← h ⊙ (W x) / (W Wᵀ h) from a constant start (per image: the code whose
reconstruction has the image's mean pixel value) (``encode_iters`` rounds; differentiable, so
the encoder analyses apply); ``decode``: h W.

Sampling — NMF itself is not a density. genbench fits one over the train codes (said in the
report): a Gaussian with full covariance on log(h + δ), δ = ``code_offset`` × the mean code;
a sample is h = max(exp(g) − δ, 0), decoded to h W (a log-normal over the non-negative codes,
which are heavy-tailed and often near 0). No likelihood.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from genbench.core.errors import ConfigError
from genbench.models.base import GenerativeModel, ModelConfig
from genbench.models.registry import register


@register("nmf")
class NMF(GenerativeModel):
    family = "Linear models and mixtures"
    class Config(ModelConfig):
        kind: Literal["nmf"] = "nmf"
        gate: bool = False  # exempt: its samples' limits are the lecture's point
        latent_dim: int = Field(ge=1)  # rank k
        max_iter: int = Field(default=400, ge=1)  # scikit-learn's coordinate-descent rounds
        encode_iters: int = Field(default=200, ge=1)  # multiplicative updates per encoding
        code_offset: float = Field(default=0.01, gt=0)  # δ of the log-normal, × mean code

    def __init__(self, cfg: Config, shape, num_classes):
        super().__init__(cfg, shape, num_classes)
        if cfg.latent_dim >= self.dim:
            raise ConfigError(f"latent_dim = {cfg.latent_dim}: must be < the data dimension "
                              f"{self.dim}")
        k = cfg.latent_dim
        self.register_buffer("components", torch.zeros(k, self.dim))  # W (k, D) ≥ 0
        self.register_buffer("code_mean", torch.zeros(k))  # of log(h + δ)
        self.register_buffer("code_chol", torch.eye(k))  # Cholesky factor of its covariance
        self.register_buffer("delta", torch.ones(()))

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        from sklearn.decomposition import NMF as SkNMF

        X = x.flatten(1).double().clamp_min(0).numpy()  # (N, D)
        nmf = SkNMF(self.cfg.latent_dim, init="nndsvda", solver="cd", max_iter=self.cfg.max_iter,
                    random_state=0)
        h = torch.from_numpy(nmf.fit_transform(X))  # (N, k)
        self.components.copy_(torch.from_numpy(nmf.components_).float())
        delta = self.cfg.code_offset * h.mean()
        g = (h + delta).log()  # (N, k)
        cov = torch.cov(g.T) + 1e-6 * torch.eye(g.shape[1], dtype=g.dtype)
        self.delta.copy_(delta.float())
        self.code_mean.copy_(g.mean(0).float())
        self.code_chol.copy_(torch.linalg.cholesky(cov).float())
        err = (h @ torch.from_numpy(nmf.components_) - torch.from_numpy(X)).pow(2).mean()
        return {"loss": float(err), "iterations": float(nmf.n_iter_),
                "frobenius": float(nmf.reconstruction_err_)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, k)
        W = self.components  # (k, D)
        v = x.flatten(1).clamp_min(0)  # (B, D)
        num = v @ W.T  # (B, k), fixed across the updates
        gram = W @ W.T  # (k, k)
        # start: the constant code whose reconstruction has the image's mean (no data-dependent
        # Python control flow: the tangent analysis vmaps this function)
        scale = v.mean(1, keepdim=True) / W.sum(1).mean().clamp_min(1e-12)  # (B, 1)
        h = (scale * torch.ones(W.shape[0], device=v.device)).clamp_min(1e-3)  # (B, k)
        for _ in range(self.cfg.encode_iters):
            h = h * num / (h @ gram).clamp_min(1e-12)
        return h

    def decode(self, h: torch.Tensor) -> torch.Tensor:  # (B, k) -> (B, C, H, W)
        return (h @ self.components).view(-1, *self.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def _sample(self, n, generator, labels=None):
        eps = self.randn(n, self.cfg.latent_dim, generator=generator)
        h = (self.code_mean + eps @ self.code_chol.T).exp() - self.delta
        return self.decode(h.clamp_min(0))
