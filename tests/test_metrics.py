"""Metrics against independent references: scipy/numpy formulas, scikit-learn, hand-made sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from genbench import metrics as M
from genbench.models.pca import PCA


def gaussian_set(n, d, shift=0.0, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift


def fid_reference(a: np.ndarray, b: np.ndarray) -> float:
    """The FID formula written independently with scipy's sqrtm."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_fid_of_identical_sets_is_zero():
    a = gaussian_set(500, 16)
    assert abs(M.fid(a, a.clone())) < 1e-6


def test_fid_matches_scipy_reference():
    a, b = gaussian_set(800, 8, seed=1), gaussian_set(600, 8, shift=0.5, scale=1.3, seed=2)
    assert M.fid(a, b) == pytest.approx(fid_reference(a.numpy(), b.numpy()), rel=1e-4)


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731  (KID's cubic polynomial kernel)
    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy))
                 / (m * (m - 1)) - 2 * kxy.mean())


def test_kid_matches_unbiased_mmd_when_one_subset_is_the_whole_set():
    a, b = gaussian_set(200, 6, seed=3), gaussian_set(200, 6, shift=0.3, seed=4)
    mean, _ = M.kid(a, b, subsets=1, subset_size=200)
    assert mean == pytest.approx(mmd2_unbiased(a.numpy(), b.numpy()), rel=1e-6)


def test_kid_near_zero_for_same_distribution():
    a, b = gaussian_set(400, 6, seed=5), gaussian_set(400, 6, seed=6)
    assert abs(M.kid(a, b, subsets=20, subset_size=100)[0]) < 0.01


def test_inception_score_extremes():
    k = 10
    confident_uniform = torch.eye(k).repeat(20, 1) * 50  # every class equally, each certain
    assert M.inception_score(confident_uniform, splits=1)[0] == pytest.approx(k, rel=1e-3)
    one_class = torch.zeros(200, k)
    one_class[:, 3] = 50
    assert M.inception_score(one_class, splits=1)[0] == pytest.approx(1.0, abs=1e-3)


def test_precision_recall_hand_made():
    real = gaussian_set(300, 2, seed=7)
    assert M.precision_recall(real, real.clone(), k=3) == (1.0, 1.0)
    far = real + 100.0
    assert M.precision_recall(real, far, k=3) == (0.0, 0.0)
    # fakes collapsed onto one real point: all inside the real manifold, few reals covered
    collapsed = real[:1].repeat(300, 1) + 1e-4 * gaussian_set(300, 2, seed=8)
    p, r = M.precision_recall(real, collapsed, k=3)
    assert p == 1.0 and r < 0.05


def test_density_coverage_against_a_nearest_neighbour_reference():
    """Naeem et al. 2020, Eq. 3-4, computed with scikit-learn's exact k-NN radii and a loop."""
    from sklearn.neighbors import NearestNeighbors

    real, fake = gaussian_set(200, 4, seed=1), gaussian_set(150, 4, seed=2) + 0.3
    k = 5
    # k+1 neighbours: the first is the point itself
    radii = NearestNeighbors(n_neighbors=k + 1).fit(real.numpy()).kneighbors(real.numpy())[0][:, k]
    dist = torch.cdist(fake.double(), real.double()).numpy()
    inside = dist <= radii[None, :]
    density, coverage = M.density_coverage(real, fake, k)
    assert density == pytest.approx(inside.sum() / (k * len(fake)), rel=1e-6)
    assert coverage == pytest.approx(inside.any(0).mean(), rel=1e-6)


def test_density_coverage_see_collapse_that_precision_misses():
    real = gaussian_set(300, 2, seed=7)
    assert M.density_coverage(real, real.clone(), k=3)[1] == 1.0
    collapsed = real[:1].repeat(300, 1) + 1e-4 * gaussian_set(300, 2, seed=8)
    density, coverage = M.density_coverage(real, collapsed, k=3)
    assert M.precision_recall(real, collapsed, k=3)[0] == 1.0  # precision is fooled
    assert coverage < 0.05  # coverage is not: one real neighbourhood reached
    assert M.density_coverage(real, real + 100.0, k=3) == (0.0, 0.0)


def test_class_coverage():
    uniform = torch.arange(1000) % 10
    c = M.class_coverage(uniform, 10)
    assert c["classes_covered"] == 10 and c["class_kl"] == pytest.approx(0.0, abs=1e-12)
    single = torch.full((100,), 4)
    c = M.class_coverage(single, 10)
    assert c["classes_covered"] == 1 and c["class_kl"] == pytest.approx(math.log(10))
    # 0.5% of samples in a class does not count as covering it
    rare = torch.cat([torch.zeros(995, dtype=torch.long), torch.ones(5, dtype=torch.long)])
    assert M.class_coverage(rare, 10)["classes_covered"] == 1


def test_bits_per_dim():
    assert M.bits_per_dim(784 * math.log(2), 784, discrete=True) == pytest.approx(1.0)
    # a uniform density on [0,1]^D has NLL 0, i.e. 8 bits per 8-bit pixel
    assert M.bits_per_dim(0.0, 784, discrete=False) == pytest.approx(8.0)


def test_pca_log_likelihood_matches_sklearn_score_samples():
    from sklearn.decomposition import PCA as SkPCA

    rng = np.random.default_rng(0)
    x = (rng.random((300, 1, 5, 5)) ** 2).astype(np.float32)
    x[:, :, 0, 0] += rng.normal(size=(300, 1)).astype(np.float32)  # correlated structure
    x = torch.from_numpy(x)
    model = PCA(PCA.Config(latent_dim=4), (1, 5, 5), 10)
    model.fit(x, torch.zeros(300, dtype=torch.long))
    sk = SkPCA(n_components=4, svd_solver="full").fit(x.flatten(1).numpy().astype(np.float64))
    ours = model.log_likelihood(x[:50]).double().numpy()
    theirs = sk.score_samples(x[:50].flatten(1).numpy().astype(np.float64))
    assert np.allclose(ours, theirs, rtol=1e-4, atol=1e-3)
    # the linear autoencoder reconstructs with sklearn's components
    assert np.allclose(model.reconstruct(x[:5]).flatten(1).numpy(),
                       sk.inverse_transform(sk.transform(x[:5].flatten(1).numpy())), atol=1e-4)


def test_vae_iwae_bound_is_above_the_elbo():
    from conftest import default_model_section

    from genbench.models.vae import VAE

    torch.manual_seed(0)
    cfg = VAE.Config.model_validate(default_model_section("vae"))
    model = VAE(cfg, (1, 8, 8), 10)
    x = torch.bernoulli(torch.full((32, 1, 8, 8), 0.3))
    with torch.no_grad():
        elbo = torch.stack([model.elbo(x) for _ in range(20)]).mean(0)
        iwae = model.log_likelihood(x, k=500)
    assert (iwae.mean() > elbo.mean()).item()


def test_inception_backbone_without_weights_fails_with_one_clear_line(tmp_path):
    from genbench.core.config import EvaluatorConfig
    from genbench.core.errors import ConfigError
    from genbench.evaluator import FeatureExtractor
    from genbench.nn import ConvClassifier

    cfg = EvaluatorConfig(backbone="inception", inception_weights=str(tmp_path / "missing.pth"))
    with pytest.raises(ConfigError) as err:
        FeatureExtractor(ConvClassifier((1, 28, 28), 10), cfg)
    msg = str(err.value)
    assert "\n" not in msg and "evaluator.inception_weights" in msg and "never downloaded" in msg


def test_chain_mixing_by_hand():
    # two chains over 4 steps: classes 0,0,1,1 and 1,2,2,2
    pred = torch.tensor([[0, 1], [0, 2], [1, 2], [1, 2]])
    out = M.chain_mixing(pred)
    assert out["chain_class_changes_per_100_steps"] == pytest.approx(100 / 3)
    assert out["chain_distinct_classes"] == 2.0
    assert out["chain_share_leaving_first_class"] == 1.0
    assert (out["chain_steps"], out["chains"]) == (4, 2)
    stuck = M.chain_mixing(torch.zeros(5, 3, dtype=torch.long))
    assert stuck["chain_class_changes_per_100_steps"] == 0 and stuck["chain_distinct_classes"] == 1
