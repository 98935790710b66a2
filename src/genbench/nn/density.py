"""A density fitted to an autoencoder's training codes, that its decoder samples from (seed 002
"Decoder as data generator": the decoder makes images from synthetic codes).

- ``gaussian``: one full-covariance Gaussian N(mean, cov) by maximum likelihood;
- ``gmm``: a mixture of ``components`` full-covariance Gaussians fitted by EM (scikit-learn's
  ``GaussianMixture``, k-means initialisation): the "ex-post density estimation" of Ghosh et
  al. 2020 ("From Variational to Deterministic Autoencoders", ICLR, §4: a 10-component GMM on
  a deterministic autoencoder's codes). A single Gaussian spreads its mass over the gaps
  between the digit clusters of the code space, where the decoder draws blends of digits; the
  mixture keeps the draws on the clusters.

The fitted parameters are buffers (in the model file); sampling draws the component, then the
Gaussian, from an explicit generator on the CPU.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Kind = Literal["gaussian", "gmm"]


class CodeDensity(nn.Module):
    def __init__(self, dim: int, kind: Kind = "gaussian", components: int = 10):
        super().__init__()
        self.kind = kind
        k = 1 if kind == "gaussian" else components
        self.register_buffer("weights", torch.full((k,), 1.0 / k))  # mixing proportions (K,)
        self.register_buffer("means", torch.zeros(k, dim))  # (K, J)
        self.register_buffer("chols", torch.eye(dim).expand(k, dim, dim).clone())  # (K, J, J)

    @torch.no_grad()
    def fit(self, h: torch.Tensor, seed: int = 0) -> None:
        """Fit to the codes ``h`` (N, J) (float64 for the covariances)."""
        h = h.detach().double().cpu()
        if self.kind == "gaussian":
            mean = h.mean(0)
            cov = torch.cov(h.T).reshape(len(mean), len(mean))
            cov = cov + 1e-6 * cov.diagonal().mean().clamp_min(1e-12) * torch.eye(
                len(mean), dtype=cov.dtype)
            self.means.copy_(mean[None])
            self.chols.copy_(torch.linalg.cholesky(cov)[None])
            return
        from sklearn.mixture import GaussianMixture

        gm = GaussianMixture(len(self.weights), covariance_type="full", random_state=seed,
                             max_iter=200, reg_covar=1e-6).fit(h.numpy())
        self.weights.copy_(torch.from_numpy(gm.weights_))
        self.means.copy_(torch.from_numpy(gm.means_))
        self.chols.copy_(torch.linalg.cholesky(torch.from_numpy(gm.covariances_)))

    def sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """``n`` codes (n, J): a component by its weight, then a draw of its Gaussian."""
        dev = self.means.device
        z = torch.randn(n, self.means.shape[1], generator=generator).to(dev)  # (n, J)
        if len(self.weights) == 1:
            return self.means[0] + z @ self.chols[0].T
        k = torch.multinomial(self.weights.cpu(), n, replacement=True,
                              generator=generator).to(dev)  # (n,)
        return self.means[k] + (self.chols[k] @ z[:, :, None]).squeeze(2)
