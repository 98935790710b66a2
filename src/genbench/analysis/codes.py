"""Two checks of what an autoencoder's codes carry (seed 003 "Adversarial autoencoders"):

- **prior match**: are the codes of test images distributed as the prior the model imposes
  (the AAE's N(0, I))? The two-sample test of Gretton et al. 2012 ("A Kernel Two-Sample Test",
  JMLR): the unbiased squared maximum mean discrepancy (their eq. 3) between the codes and as
  many prior draws, with a Gaussian kernel whose width is the median distance of the pooled
  sample (their §8 heuristic), and its permutation p-value; beside it the KL divergence from the
  Gaussian with the codes' mean and covariance to N(0, I) (a moment summary, 0 when matched).
- **label swap** (a conditional decoder): the code of a test image decoded with another label —
  "same code, two labels" (Makhzani et al. 2016, Fig. 6; Sohn et al. 2015) — should show the
  new label's digit in the old one's style: the share the evaluator reads as the new label.
"""

from __future__ import annotations

import torch


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b).pow(2)


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> float:
    """Unbiased MMD² (Gretton et al. 2012, eq. 3) of samples x (m, d) and y (n, d) under the
    kernel k(a, b) = exp(−‖a − b‖² / (2 σ²)), σ = ``bandwidth``."""
    m, n = len(x), len(y)
    kxx = torch.exp(-_sq_dists(x, x) / (2 * bandwidth ** 2))
    kyy = torch.exp(-_sq_dists(y, y) / (2 * bandwidth ** 2))
    kxy = torch.exp(-_sq_dists(x, y) / (2 * bandwidth ** 2))
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
                 + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1)) - 2 * kxy.mean())


def median_bandwidth(z: torch.Tensor) -> float:
    """The median pairwise distance of ``z`` (N, d) (distinct pairs)."""
    d = torch.pdist(z)
    return float(d.median())


def gaussian_kl_to_standard(z: torch.Tensor) -> float:
    """KL(N(μ, Σ) || N(0, I)) for the mean μ and covariance Σ of ``z`` (N, d), in nats:
    ½ (tr Σ + μᵀμ − d − ln det Σ)."""
    z = z.double()
    mu = z.mean(0)
    cov = torch.cov(z.T).reshape(len(mu), len(mu))
    return float(0.5 * (cov.trace() + mu @ mu - len(mu) - torch.logdet(cov)))


def prior_match(codes: torch.Tensor, generator: torch.Generator,
                permutations: int = 200) -> dict:
    """Codes (N, d) against N draws of N(0, I): MMD², its permutation p-value (the share of
    random relabellings of the pooled sample with an MMD² at least as large), the moment KL,
    and the codes' mean norm and mean per-dimension standard deviation (1 when matched)."""
    z = codes.double().cpu()
    prior = torch.randn(z.shape, generator=generator, dtype=torch.float64)
    pooled = torch.cat([z, prior])
    bw = median_bandwidth(pooled)
    observed = mmd2_unbiased(z, prior, bw)
    n = len(z)
    null = []
    for _ in range(permutations):
        p = torch.randperm(len(pooled), generator=generator)
        null.append(mmd2_unbiased(pooled[p[:n]], pooled[p[n:]], bw))
    p_value = (1 + sum(v >= observed for v in null)) / (1 + permutations)
    return {"mmd2": observed, "p_value": p_value, "bandwidth": bw, "codes": n,
            "permutations": permutations, "gaussian_kl": gaussian_kl_to_standard(z),
            "mean_norm": float(z.mean(0).norm()), "std_mean": float(z.std(0).mean())}


@torch.no_grad()
def label_swap(encode, decode, probs, x: torch.Tensor, y: torch.Tensor, num_classes: int,
               generator: torch.Generator) -> dict:
    """Each image's code (encoded with its own label) decoded with another label drawn
    uniformly from the other classes; the share the evaluator (``probs``: images -> class
    probabilities) reads as the new label, and as the old one."""
    z = encode(x, y)
    new = (y + torch.randint(1, num_classes, y.shape, generator=generator)) % num_classes
    out = decode(z, new).view_as(x)
    pred = probs(out).argmax(1)
    return {"pairs": len(y), "swap_accuracy": float((pred == new).float().mean()),
            "kept_old_label": float((pred == y).float().mean())}
