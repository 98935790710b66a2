"""Sample-quality metrics on evaluator features (seed 004's evaluation table).

FID, KID and the Inception-style score are torchmetrics' implementations, fed with features
from our own extractor (an identity "network" over precomputed features, so every image goes
through the extractor once). Precision/recall follow Kynkäänniemi et al. 2019 (k-NN manifolds).
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

# torchmetrics warns that KID/IS keep all features in memory: by design here (a few MB).
warnings.filterwarnings("ignore", message=".*will save all extracted features in buffer.*")


class _Precomputed(nn.Module):
    """Lets torchmetrics consume features we already computed: forward is the identity."""

    def __init__(self, dim: int):
        super().__init__()
        self.num_features = dim

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f


def fid(f_real: torch.Tensor, f_fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    m = FrechetInceptionDistance(feature=_Precomputed(f_real.shape[1]), reset_real_features=True)
    m.update(f_real.double(), real=True)
    m.update(f_fake.double(), real=False)
    return float(m.compute())


def kid(f_real: torch.Tensor, f_fake: torch.Tensor, subsets: int, subset_size: int,
        seed: int = 0) -> tuple[float, float]:
    """Kernel (MMD², cubic polynomial kernel) distance: mean and std over random subsets."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(f_real), len(f_fake))
    m = KernelInceptionDistance(feature=_Precomputed(f_real.shape[1]), subsets=subsets,
                                subset_size=size)
    m.update(f_real.double(), real=True)
    m.update(f_fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # subsets are drawn with the global RNG
        mean, std = m.compute()
    return float(mean), float(std)


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> tuple[float, float]:
    """exp E_x KL(p(y|x) || p(y)) from classifier logits (N, K); mean and std over splits."""
    from torchmetrics.image.inception import InceptionScore

    m = InceptionScore(feature=_Precomputed(logits.shape[1]), splits=min(splits, len(logits)))
    m.update(logits.double())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = m.compute()
    return float(mean), float(std)


def _kth_nn_radius(f: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row. (N, F) -> (N,)"""
    d = torch.cdist(f, f)
    return d.kthvalue(k + 1, dim=1).values  # +1: the row itself is at distance 0


def precision_recall(f_real: torch.Tensor, f_fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019).

    precision: share of fakes inside the real manifold (union of k-NN balls around reals);
    recall: share of reals inside the fake manifold.
    """
    f_real, f_fake = f_real.float(), f_fake.float()
    r_real, r_fake = _kth_nn_radius(f_real, k), _kth_nn_radius(f_fake, k)
    d = torch.cdist(f_fake, f_real)  # (N_fake, N_real)
    precision = (d <= r_real[None, :]).any(1).float().mean()
    recall = (d.T <= r_fake[None, :]).any(1).float().mean()
    return float(precision), float(recall)


def density_coverage(f_real: torch.Tensor, f_fake: torch.Tensor, k: int = 5
                     ) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
    Generative Models", §3.2), robust where precision and recall are not: one fake on an
    outlier real, or a few prototypes, cannot fill them.

    With B(x_i, r_i) the ball around real x_i whose radius r_i is the distance to its k-th
    nearest other real: density = 1/(kM) Σ_j Σ_i 1[y_j ∈ B(x_i, r_i)] over the M fakes y_j
    (about 1 when fakes fall where reals are dense; it can exceed 1); coverage = 1/N Σ_i
    1[∃ j: y_j ∈ B(x_i, r_i)] over the N reals (the share of real neighbourhoods some fake
    reaches). (N, F), (M, F) -> (density, coverage)."""
    f_real, f_fake = f_real.float(), f_fake.float()
    r_real = _kth_nn_radius(f_real, k)
    inside = torch.cdist(f_fake, f_real) <= r_real[None, :]  # (M, N)
    density = inside.sum().item() / (k * len(f_fake))
    coverage = inside.any(0).float().mean().item()
    return float(density), float(coverage)


def class_coverage(pred: torch.Tensor, num_classes: int, min_share: float = 0.01) -> dict:
    """Class histogram of predicted labels (N,): classes holding ≥ ``min_share`` of samples and
    KL(histogram || uniform) in nats (0 = perfectly balanced, log K = one class)."""
    hist = torch.bincount(pred, minlength=num_classes).double()
    p = hist / hist.sum()
    nz = p > 0
    kl = float((p[nz] * (p[nz] * num_classes).log()).sum())
    return {"classes_covered": int((p >= min_share).sum()), "class_kl": kl,
            "class_hist": [round(float(v), 4) for v in p]}


#: the evaluator's mean confidence a model's samples need to "read as digits", per family:
#: 0.90 where sharp samples are the family's point, 0.85 where blur is its lecture's point (the
#: autoencoders' mean images, the Boltzmann machines' visible probabilities)
GATE_CONFIDENCE = {"GANs": 0.90, "Autoregressive models": 0.90, "Translation models": 0.90}
GATE_CONFIDENCE_BLURRED = 0.85
GATE_MIN_CLASS_SHARE = 0.03  # every class at least this share of the samples
GATE_RECALL = 0.3
COLLAPSED_CLASSES = 9  # fewer classes covered (≥ 1 % of the samples each) = collapsed
COLLAPSED_RECALL = 0.05


def sample_gate(m: dict, family: str, gated: bool = True) -> dict:
    """The sample-quality gate of a model's metrics ``m`` (the evaluator's judgement of its
    samples): ``reads_as_digits`` when its mean confidence, smallest class share and recall
    all reach the family's bar, ``collapsed`` when it covers fewer than 9 classes or its
    recall is below 0.05, and ``gate``: the bars and which failed. ``gated`` False: a model
    whose lecture point is a limitation of its samples (linear models, mixtures, 2-D codes):
    ``reads_as_digits`` is None (not judged), ``collapsed`` is still measured."""
    need = {"mean_confidence": GATE_CONFIDENCE.get(family, GATE_CONFIDENCE_BLURRED),
            "min_class_share": GATE_MIN_CLASS_SHARE, "recall": GATE_RECALL}
    got = {"mean_confidence": m["mean_confidence"], "min_class_share": min(m["class_hist"]),
           "recall": m["recall"]}
    failed = [k for k, bar in need.items() if got[k] < bar]
    collapsed = m["classes_covered"] < COLLAPSED_CLASSES or m["recall"] < COLLAPSED_RECALL
    return {"reads_as_digits": (not failed) if gated else None, "collapsed": collapsed,
            "gate": {"applies": gated, "family": family, "bars": need, "values": got,
                     "failed": failed}}


def bits_per_dim(nll_nats: float, dim: int, discrete: bool) -> float:
    """Nats per image -> bits per dimension. Continuous densities on [0,1] pixels are moved to the
    8-bit scale (density on [0,256)^D = density on [0,1)^D / 256^D) so they compare with
    discrete models."""
    return (nll_nats + (0.0 if discrete else dim * math.log(256))) / (dim * math.log(2))


def code_class_matching(pred: torch.Tensor, codes: torch.Tensor, num_classes: int) -> dict:
    """How well an unsupervised code (InfoGAN's categorical code) maps onto classes: accuracy
    under the best one-to-one code→class assignment (Hungarian, as in clustering accuracy),
    purity (each code → its most frequent class) and the number of distinct majority classes."""
    from scipy.optimize import linear_sum_assignment

    k = int(codes.max()) + 1
    counts = torch.zeros(k, num_classes, dtype=torch.long)
    counts.index_put_((codes.long(), pred.long()), torch.ones_like(codes, dtype=torch.long),
                      accumulate=True)
    rows, cols = linear_sum_assignment(counts.numpy(), maximize=True)
    n = len(codes)
    return {"class_accuracy": float(counts[rows, cols].sum()) / n,
            "code_purity": float(counts.max(1).values.sum()) / n,
            "code_classes": len(set(counts.argmax(1).tolist()))}


def chain_mixing(pred: torch.Tensor) -> dict:
    """Mixing of Markov chains from the classes of their states, (T steps, N chains) ints: how
    often the class changes from one step to the next (per 100 steps), how many distinct classes
    a chain visits, and the share of chains that ever leave their first class."""
    changes = (pred[1:] != pred[:-1]).double()  # (T-1, N)
    distinct = torch.tensor([len(torch.unique(pred[:, k])) for k in range(pred.shape[1])])
    return {"chain_class_changes_per_100_steps": float(changes.mean() * 100),
            "chain_distinct_classes": float(distinct.double().mean()),
            "chain_share_leaving_first_class": float((distinct > 1).double().mean()),
            "chain_steps": int(pred.shape[0]), "chains": int(pred.shape[1])}


# ----------------------------------------------------------------------------- translation
def l1_error(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per image of [0, 1] images. (N, C, H, W) x 2 -> (N,)"""
    return (x.double() - y.double()).abs().flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor, max_db: float = 100.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image of [0, 1] images, 10·log10(1 / MSE) dB; identical
    images get ``max_db`` instead of infinity (a mean stays finite). -> (N,)"""
    mse = (x.double() - y.double()).pow(2).flatten(1).mean(1)
    return (10 * torch.log10(1.0 / mse.clamp_min(10 ** (-max_db / 10))))


def ssim(x: torch.Tensor, y: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity per image of [0, 1] images, as scikit-image's
    ``structural_similarity(x, y, data_range=1, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` (Wang et al. 2004): local statistics under an 11x11 Gaussian
    window (σ 1.5, truncated at 3.5σ), K1 0.01, K2 0.03, the SSIM map averaged over the pixels
    whose window lies inside the image (skimage crops the 5-pixel border) and over channels.
    Images under 11 px (8x8 digits), where skimage refuses, get the largest window that fits
    (same σ, radius (min(H, W) − 1) // 2). (N, C, H, W) x 2 -> (N,)

    The Gaussian is separable: two 1-D passes (22 taps) instead of one 11x11 (121), in float64."""
    x, y = x.double(), y.double()
    n, c, h, w = x.shape
    r = min(int(3.5 * sigma + 0.5), (min(h, w) - 1) // 2)
    t = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    stats = torch.cat([x, y, x * x, y * y, x * y]).reshape(5 * n * c, 1, h, w)
    stats = F.conv2d(F.conv2d(stats, g.view(1, 1, -1, 1)), g.view(1, 1, 1, -1))  # valid
    mu_x, mu_y, xx, yy, xy = stats.view(5, n, c, h - 2 * r, w - 2 * r).unbind(0)
    var_x, var_y, cov = xx - mu_x ** 2, yy - mu_y ** 2, xy - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1)
                                                      * (var_x + var_y + c2))
    return s.flatten(1).mean(1)
