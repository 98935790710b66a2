"""The unsupervised toolbox against known answers: the DBM's exact quantities by brute-force
enumeration of every joint state (and its mean field, bound and AIS against them), NMF's codes
against scikit-learn's, clustering scores by hand and on separated blobs, code arithmetic on a
space where the answer is known, tangent-prop tangents and penalty against finite differences,
the text protocol's correlations against scipy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from conftest import build

from genbench.analysis import arithmetic as AR
from genbench.analysis import cluster as CL
from genbench.analysis import tangent_prop as TP
from genbench.nn.dbm import DBM


# ----------------------------------------------------------------------------- DBM
def tiny_dbm(scale: float, seed: int = 0, v: int = 6, h1: int = 4, h2: int = 3) -> DBM:
    g = torch.Generator().manual_seed(seed)
    d = DBM(v, h1, h2).double()
    with torch.no_grad():
        for p in d.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return d


def states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def brute_force(d: DBM):
    """log Z, and per visible state: log P(v), P(h1_j = 1 | v), P(h2_m = 1 | v), by summing
    exp(−E) over every joint state (v, h1, h2)."""
    V, H1, H2 = states(d.b.numel()), states(d.c1.numel()), states(d.c2.numel())
    v, h1, h2 = (t.reshape(-1, t.shape[-1]) for t in torch.meshgrid(
        torch.arange(len(V)), torch.arange(len(H1)), torch.arange(len(H2)), indexing="ij"))
    vi, ai, bi = v.flatten(), h1.flatten(), h2.flatten()
    neg_e = -d.energy(V[vi], H1[ai], H2[bi]).view(len(V), len(H1), len(H2))
    log_z = torch.logsumexp(neg_e.flatten(), 0)
    log_pv = torch.logsumexp(neg_e.flatten(1), 1) - log_z
    post = (neg_e - torch.logsumexp(neg_e.flatten(1), 1)[:, None, None]).exp()  # P(h1,h2|v)
    m1 = torch.einsum("vab,aj->vj", post, H1)
    m2 = torch.einsum("vab,bm->vm", post, H2)
    return V, log_z, log_pv, m1, m2


def test_dbm_exact_quantities_match_brute_force_enumeration():
    d = tiny_dbm(0.8)
    V, log_z, log_pv, m1, m2 = brute_force(d)
    assert torch.allclose(d.exact_log_z(), log_z, atol=1e-10)
    lp, e1, e2 = d.exact_posterior(V)
    assert torch.allclose(lp, log_pv, atol=1e-10)
    assert torch.allclose(e1, m1, atol=1e-10) and torch.allclose(e2, m2, atol=1e-10)
    assert math.isclose(float(log_pv.exp().sum()), 1.0, rel_tol=1e-10)  # a distribution


@pytest.mark.parametrize("scale,tol", [(0.3, 0.02), (0.8, 0.15)])
def test_dbm_mean_field_near_exact_marginals_and_bound_below_log_likelihood(scale, tol):
    """Mean field is a fixed point of its equations; its marginals approach the exact posterior
    ones as the couplings weaken (weak: within 0.02, stronger: 0.15); the bound never exceeds
    log P(v), and is tight to 0.05 nats for weak couplings."""
    d = tiny_dbm(scale, seed=1)
    V, log_z, log_pv, m1, m2 = brute_force(d)
    mu1, mu2 = d.mean_field(V, 200)
    assert torch.allclose(mu1, d.p_h1(V, mu2), atol=1e-9)  # the fixed point
    assert torch.allclose(mu2, d.p_h2(mu1), atol=1e-9)
    assert (mu1 - m1).abs().max() < tol and (mu2 - m2).abs().max() < tol
    bound = d.lower_bound(V, 200, log_z)
    assert (bound <= log_pv + 1e-10).all()
    if scale < 0.5:
        assert (log_pv - bound).max() < 0.05


def test_dbm_ais_log_z_matches_enumeration():
    d = tiny_dbm(0.8, seed=2, v=10, h1=8, h2=6)
    exact = float(d.exact_log_z())
    base = torch.zeros(8, dtype=torch.float64)
    runs = d.ais_log_z(base, betas=2000, runs=200, generator=torch.Generator().manual_seed(0))
    est = float(torch.logsumexp(runs, 0) - math.log(len(runs)))
    assert abs(est - exact) < 0.05, (est, exact)


def test_dbm_model_phases_pretrain_then_compose_then_joint():
    m = build("dbm", (1, 8, 8), None, hidden=[6, 5], pretrain_steps=2, steps=6, batch_size=8,
              ais_betas=20, ais_runs=4, sample_steps=3)
    x = torch.bernoulli(torch.full((8, 1, 8, 8), 0.3))
    from genbench.models.base import Batch

    for step in range(6):
        m.zero_grad()
        out = m.losses(Batch(x, torch.zeros(8, dtype=torch.long)), "dbm")
        assert out["phase"] == min(step // 2, 2)
        out["loss"].backward()
        grads = {n for n, p in m.named_parameters() if p.grad is not None and p.grad.abs().sum()}
        if step < 2:  # bottom RBM: W1 and its biases only
            assert grads <= {"dbm.W1", "dbm.b", "dbm.c1"} and "dbm.W1" in grads
        elif step < 4:  # top RBM: W2, c2 and the top RBM's own bias of h1
            assert grads <= {"dbm.W2", "dbm.c2", "c1_top"} and "dbm.W2" in grads
        else:
            assert {"dbm.W1", "dbm.W2"} <= grads and "c1_top" not in grads
        m.on_step_end("dbm")
    m.on_train_end(x, None)
    assert torch.isfinite(m.log_likelihood(x)).all() and (m.log_likelihood(x) < 0).all()


# ----------------------------------------------------------------------------- NMF
def test_nmf_codes_match_scikit_learn_and_samples_are_non_negative():
    from sklearn.decomposition import NMF

    g = torch.Generator().manual_seed(0)
    parts = torch.rand(5, 64, generator=g) * (torch.rand(5, 64, generator=g) > 0.6)
    x = (torch.rand(200, 5, generator=g) @ parts).clamp(0, 1)
    m = build("nmf", (1, 8, 8), None, latent_dim=5, max_iter=500)
    m.fit(x.view(-1, 1, 8, 8), torch.zeros(200, dtype=torch.long))
    sk = NMF(5, init="nndsvda", solver="cd", max_iter=500, random_state=0).fit(x.double().numpy())
    np.testing.assert_allclose(m.components.numpy(), sk.components_, rtol=1e-4, atol=1e-5)
    x_new = x[:50]
    ours = (m.reconstruct(x_new.view(-1, 1, 8, 8)).flatten(1) - x_new).pow(2).mean()
    h_sk = torch.from_numpy(sk.transform(x_new.double().numpy()))
    theirs = (h_sk @ torch.from_numpy(sk.components_) - x_new.double()).pow(2).mean()
    assert float(ours) <= float(theirs) * 1.05 + 1e-7  # multiplicative updates ≈ sklearn's cd
    assert (m.encode(x_new.view(-1, 1, 8, 8)) >= 0).all()
    s = m.sample(100, torch.Generator().manual_seed(1))
    assert s.min() >= 0 and s.shape == (100, 1, 8, 8)


# ----------------------------------------------------------------------------- clustering
def test_purity_by_hand_and_nmi_ari_invariant_to_label_names():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert CL.purity(labels, np.array([0, 0, 0, 1, 1, 1])) == pytest.approx(4 / 6)
    assert CL.purity(labels, np.array([5, 5, 9, 9, 7, 7])) == 1.0
    s = CL.scores(labels, np.array([2, 2, 0, 0, 1, 1]))
    assert s == {"purity": 1.0, "nmi": pytest.approx(1.0), "ari": pytest.approx(1.0)}
    # one cluster: purity = the majority share, NMI = ARI = 0
    s = CL.scores(np.array([0, 0, 0, 1]), np.zeros(4, dtype=int))
    assert s["purity"] == 0.75 and s["nmi"] == pytest.approx(0.0) and s["ari"] == pytest.approx(0.0)


def test_kmeans_and_ward_recover_well_separated_blobs():
    from sklearn.datasets import make_blobs

    z, y = make_blobs(600, n_features=5, centers=6, cluster_std=0.5, center_box=(-20, 20),
                      random_state=3)
    for alg, s in CL.evaluate(z, y, 6, seed=0).items():
        assert s["purity"] == 1.0 and s["nmi"] == pytest.approx(1.0) and s["ari"] == \
            pytest.approx(1.0), alg
    # random codes: near chance
    noise = np.random.default_rng(0).normal(size=(600, 5))
    for s in CL.evaluate(noise, y, 6, seed=0).values():
        assert s["ari"] < 0.05 and s["nmi"] < 0.05


# ----------------------------------------------------------------------------- arithmetic
def test_class_vectors_move_codes_between_known_classes():
    """Codes = class centre + noise, decode = identity, predict = nearest centre: adding
    v(a→b) lands every code in b; a random vector of the same norm rarely does."""
    g = torch.Generator().manual_seed(0)
    k, dim = 4, 16
    centres = 5 * torch.randn(k, dim, generator=g)
    y = torch.arange(400) % k
    z = centres[y] + 0.3 * torch.randn(400, dim, generator=g)

    def predict(x):
        return torch.cdist(x, centres).argmin(1)

    means = AR.class_means(z[:200], y[:200], k)
    out = AR.class_transfer(lambda h: h, predict, z[200:], y[200:], means, 20, g)
    assert out["success"] == 1.0 and out["pairs"] == k * (k - 1) and out["random"] < 0.4
    v = AR.random_like(means[1] - means[0], g)
    assert torch.isclose(v.norm(), (means[1] - means[0]).norm())


def test_thickness_vector_adds_ink():
    """Images whose ink is the first code coordinate: v(thick) raises ink, −v lowers it."""
    g = torch.Generator().manual_seed(0)
    z = torch.rand(500, 3, generator=g)

    def decode(h):
        return h[:, :1, None, None].expand(-1, 1, 4, 4).clamp(0, 1)

    out, _ = AR.thickness(decode, lambda x: torch.zeros(len(x), dtype=torch.long), z,
                          AR.ink(decode(z)), z[:100] * 0.5 + 0.25, 0.25, g)
    assert out["ink_change_plus"] > 0.3 and out["ink_change_minus"] < -0.3
    assert abs(out["ink_change_random"]) < out["ink_change_plus"]


# ----------------------------------------------------------------------------- tangent prop
def test_transform_tangents_point_along_small_shifts_and_rotations():
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    x = F.avg_pool2d(torch.rand(8, 1, 32, 32, generator=g), 3, 1, 1)[:, :, 2:-2, 2:-2]
    x = F.pad(x, (4, 4, 4, 4))  # blobs away from the border
    t = TP.transform_tangents(x)
    assert t.shape == (8, 3, 1, 36, 36)
    assert torch.allclose(t.flatten(2).norm(dim=2), torch.ones(8, 3), atol=1e-5)
    s = TP._smooth(x)

    def cos(a, b):
        a, b = a.flatten(1), b.flatten(1)
        return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))

    # sub-pixel shifts by bilinear interpolation are one-sided differences, the tangents central
    # ones: they agree to cos ≈ 0.9 (a wrong axis or sign gives ≈ 0 or < 0)
    eps = 0.1  # content moves +u
    theta = torch.tensor([[1, 0, -2 * eps / 36], [0, 1, 0]], dtype=torch.float32)
    grid = F.affine_grid(theta[None].expand(8, 2, 3), s.shape, align_corners=False)
    assert (cos(t[:, 0], F.grid_sample(s, grid, align_corners=False) - s) > 0.85).all()
    a = 0.02  # a small rotation about the centre
    rot = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0]])
    grid = F.affine_grid(rot[None].expand(8, 2, 3), s.shape, align_corners=False)
    assert (cos(t[:, 2], F.grid_sample(s, grid, align_corners=False) - s).abs() > 0.8).all()


def test_tangent_penalty_is_the_directional_derivative():
    torch.manual_seed(0)
    net = TP.MLP(16, 8, 3).double()
    x = torch.rand(5, 1, 4, 4, dtype=torch.float64)
    t = torch.randn(5, 2, 1, 4, 4, dtype=torch.float64)
    eps = 1e-6
    fd = sum(((net(x + eps * t[:, i]) - net(x - eps * t[:, i])) / (2 * eps)).pow(2).sum(1).mean()
             for i in range(2))
    assert torch.isclose(TP.penalty(net, x, t), fd, rtol=1e-6)
    # γ = 0 (or no tangents): plain cross-entropy; the penalty reaches the weights
    from genbench.models.base import Batch

    y = torch.tensor([0, 1, 2, 0, 1])
    packed = torch.cat([x, t.flatten(1, 2)], 1)
    plain = TP.TangentPropTrainer(net, 1e-3, 0.0, 1).losses(Batch(packed, y), "clf")
    ce = torch.nn.functional.cross_entropy(net(x), y)
    assert torch.isclose(plain["loss"], ce)
    tp = TP.TangentPropTrainer(net, 1e-3, 2.0, 1).losses(Batch(packed, y), "clf")
    assert torch.isclose(tp["loss"], ce + 2.0 * fd, rtol=1e-6)


# ----------------------------------------------------------------------------- text
def test_document_similarity_protocol_against_scipy():
    from scipy.stats import pearsonr, spearmanr

    from genbench.analysis import text as TX

    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(7, 4))
    human = rng.random((7, 7))
    human = (human + human.T) / 2
    out = TX.pair_scores(vecs, human)
    cos = [float(vecs[i] @ vecs[j] / np.linalg.norm(vecs[i]) / np.linalg.norm(vecs[j]))
           for i in range(7) for j in range(i + 1, 7)]
    hum = [human[i, j] for i in range(7) for j in range(i + 1, 7)]
    assert out["pearson"] == pytest.approx(pearsonr(cos, hum)[0])
    assert out["spearman"] == pytest.approx(spearmanr(cos, hum)[0])
    assert len(cos) == 21


def test_lee_corpus_ships_with_gensim_and_word2vec_is_deterministic():
    from genbench.analysis import text as TX
    from genbench.core.config import TextConfig

    d = TX.data_dir()
    train, test = TX.read_corpus(d / "lee_background.cor"), TX.read_corpus(d / "lee.cor")
    human = TX.human_similarities(d / "similarities0-1.txt")
    assert len(train) == 300 and len(test) == 50 and human.shape == (50, 50)
    assert np.allclose(human, human.T) and np.allclose(np.diag(human), 1.0)
    cfg = TextConfig(epochs=2, vector_size=16)
    a, b = TX.word2vec(train[:50], 1, cfg, 1), TX.word2vec(train[:50], 1, cfg, 1)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
