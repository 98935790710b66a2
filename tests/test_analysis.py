"""Each analysis against a case whose right answer is known: data on a known curve or subspace,
hand-computed AUROCs and corruption errors, an analytic encoder whose tangent is the curve's."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import build, variant_section

from genbench.analysis import anomaly as A
from genbench.analysis import finetune as FT
from genbench.analysis import inpainting as IP
from genbench.analysis import interpolation as IN
from genbench.analysis import latent as LT
from genbench.analysis import probe as PR
from genbench.analysis import robustness as RB
from genbench.analysis import tangents as TG


# --------------------------------------------------------------------------- a known manifold
def circle_encode(x: torch.Tensor) -> torch.Tensor:
    """Points (B, 1, 1, 2) on the unit circle -> their angle (B, 1)."""
    p = x.flatten(1)
    return torch.atan2(p[:, 1], p[:, 0])[:, None]


def circle_decode(h: torch.Tensor) -> torch.Tensor:
    return torch.stack([h[:, 0].cos(), h[:, 0].sin()], 1).view(-1, 1, 1, 2)


def on_circle(theta: torch.Tensor) -> torch.Tensor:
    return torch.stack([theta.cos(), theta.sin()], 1).view(-1, 1, 1, 2)


def test_tangent_of_an_analytic_encoder_is_the_curve_tangent():
    theta = torch.linspace(-2.5, 2.5, 11)
    s, v = TG.tangent_spectrum(circle_encode, on_circle(theta))
    tangent = torch.stack([-theta.sin(), theta.cos()], 1)  # d/dθ (cos θ, sin θ)
    cos = (v[:, 0] * tangent).sum(1).abs()
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-5)
    assert torch.allclose(s[:, 0], torch.ones(11), atol=1e-5)  # |∇θ| = 1/r = 1


def test_spectrum_of_a_linear_encoder_is_its_singular_values():
    torch.manual_seed(0)
    w = torch.randn(3, 6)
    s, v = TG.tangent_spectrum(lambda x: x.flatten(1) @ w.T, torch.randn(4, 1, 2, 3))
    ref = torch.linalg.svdvals(w)
    assert torch.allclose(s, ref.expand(4, 3), atol=1e-5)
    summ = TG.spectrum_summary(s)
    p = ref.pow(2) / ref.pow(2).sum()
    assert summ["jacobian_frobenius_sq"] == pytest.approx(float(w.pow(2).sum()), rel=1e-5)
    assert summ["top1_share"] == pytest.approx(float(p[0]), rel=1e-5)
    assert summ["effective_rank"] == pytest.approx(float((-(p * p.log()).sum()).exp()), rel=1e-5)


def test_contractive_autoencoder_learns_the_tangent_of_a_curve():
    """Seed 002: on data on a 1-D curve in 2-D, the top right-singular vector of a trained CAE's
    Jacobian aligns with the curve's true tangent — with a 2-D code (latent ≥ input dim)."""
    torch.manual_seed(0)
    t = torch.rand(512) * 2 - 1
    curve = lambda t: torch.stack([0.5 + 0.35 * t, 0.5 + 0.2 * torch.sin(1.5 * t)], 1)  # noqa: E731
    x = curve(t).view(-1, 1, 1, 2)
    model = build("ae", (1, 1, 2), variant_section("cae"), hidden=[64, 64], latent_dim=2,
                  penalty_weight=0.01, penalty_samples=None)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    from genbench.models.base import Batch

    for _ in range(1500):
        opt.zero_grad()
        model.losses(Batch(x, torch.zeros(len(x), dtype=torch.long)), "ae")["loss"].backward()
        opt.step()
    model.eval()
    probe_t = torch.linspace(-0.8, 0.8, 17)
    s, v = TG.tangent_spectrum(model.encode, curve(probe_t).view(-1, 1, 1, 2))
    true = torch.stack([torch.full_like(probe_t, 0.35), 0.3 * torch.cos(1.5 * probe_t)], 1)
    cos = (v[:, 0] * true / true.norm(dim=1, keepdim=True)).sum(1).abs()
    assert cos.mean() > 0.97 and cos.min() > 0.9, cos  # measured: 0.988, 0.975
    assert (s[:, 1] / s[:, 0]).mean() < 0.2  # contracted across the curve (measured 0.07)


# --------------------------------------------------------------------------- interpolation
def test_latent_path_stays_on_the_manifold_and_pixel_path_cuts_the_chord():
    a, b = torch.tensor([0.1, 0.2]), torch.tensor([1.4, 1.5])  # first quadrant: images in [0, 1]
    pixel, latent = IN.paths(circle_encode, circle_decode, on_circle(a), on_circle(b), 5)
    assert pixel.shape == latent.shape == (5, 2, 1, 1, 2)
    assert torch.allclose(pixel[0], on_circle(a)) and torch.allclose(pixel[-1], on_circle(b))
    assert torch.allclose(latent[2], on_circle((a + b) / 2), atol=1e-6)  # the arc's midpoint
    mid = pixel[2].flatten(1).norm(dim=1)  # the chord's midpoint: cos(Δ/2) from the centre
    assert torch.allclose(mid, (0.5 * (b - a)).cos(), atol=1e-6)

    def probs(x):  # a one-class "classifier", sure only on the circle
        conf = torch.exp(-((x.flatten(1).norm(dim=1) - 1) / 0.1) ** 2)
        return torch.stack([conf, torch.zeros_like(conf)], 1)

    conf_pixel, conf_latent = IN.path_confidence(probs, pixel), IN.path_confidence(probs, latent)
    assert torch.allclose(conf_latent, torch.ones(5), atol=1e-5)
    expected_mid = math.exp(-((math.cos(0.65) - 1) / 0.1) ** 2)
    assert float(conf_pixel[2]) == pytest.approx(expected_mid, rel=1e-4)
    assert float(conf_pixel[0]) == pytest.approx(1.0)


def test_interpolation_pairs_are_of_different_classes():
    y = torch.arange(100) % 3
    a, b = IN.pick_pairs(y, 30, torch.Generator().manual_seed(0))
    assert len(a) == 30 and bool((y[a] != y[b]).all())


# --------------------------------------------------------------------------- inpainting
def test_pseudo_inverse_recovers_data_of_a_known_subspace():
    """Data x = V h on a 3-D subspace of R^20 with an exact linear decoder: the visible half
    determines h, so the pseudo-inverse fill is exact; the mean image cannot be."""
    torch.manual_seed(0)
    V, _ = torch.linalg.qr(torch.randn(20, 3))
    h = torch.randn(64, 3)
    x = (h @ V.T).view(64, 1, 4, 5)
    enc = lambda x: torch.zeros(len(x), 3)  # noqa: E731 - a useless first guess
    dec = lambda h: h @ V.T  # noqa: E731
    hidden = IP.region_mask((1, 4, 5), "bottom")
    assert int(hidden.sum()) == 10 and bool(hidden[0, 2:].all()) and not hidden[0, :2].any()
    guess, filled = IP.inpaint(enc, dec, x, hidden, torch.zeros(1, 4, 5), steps=800, lr=0.05)
    assert float(IP.masked_mse(filled, x, hidden).mean()) < 1e-5
    mean_fill = torch.where(hidden, x.mean(0), x)
    assert float(IP.masked_mse(mean_fill, x, hidden).mean()) > 0.01
    assert torch.equal(filled[:, :, :2], x[:, :, :2])  # visible pixels are kept


def test_nearest_neighbour_fill_and_masked_mse():
    train = torch.rand(50, 1, 4, 4)
    hidden = IP.region_mask((1, 4, 4), "center")
    assert int(hidden.sum()) == 4
    x = train[[3, 7]].clone()
    filled = IP.nearest_neighbour_fill(torch.where(hidden, 0.0, x), hidden, train)
    assert torch.equal(filled, x)
    err = IP.masked_mse(torch.where(hidden, x + 0.5, x), x, hidden)
    assert torch.allclose(err, torch.full((2,), 0.25))
    for region in IP.REGIONS:
        assert IP.region_mask((1, 28, 28), region).float().mean() == pytest.approx(0.25 if region == "center" else 0.5)


# --------------------------------------------------------------------------- anomaly
def test_auroc_hand_computed_and_against_sklearn():
    assert A.auroc(torch.tensor([0.1, 0.4, 0.35, 0.8]),
                   torch.tensor([False, False, True, True])) == pytest.approx(0.75)
    assert A.auroc(torch.tensor([1.0, 2.0]), torch.tensor([False, True])) == 1.0
    assert A.auroc(torch.tensor([1.0, 1.0]), torch.tensor([False, True])) == 0.5  # a tie
    from sklearn.metrics import roc_auc_score

    g = torch.Generator().manual_seed(0)
    s = torch.randint(0, 20, (300,), generator=g).float()  # many ties
    pos = torch.rand(300, generator=g) < 0.3
    assert A.auroc(s, pos) == pytest.approx(roc_auc_score(pos.numpy(), s.numpy()), abs=1e-12)
    with pytest.raises(ValueError):
        A.auroc(s, torch.ones(300, dtype=torch.bool))


def test_recon_error_scores_off_manifold_points_higher():
    proj = lambda x: x * torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)  # noqa: E731 - keeps the x-axis
    normal = torch.stack([torch.rand(20), torch.zeros(20)], 1).view(-1, 1, 1, 2)
    odd = torch.stack([torch.rand(20), torch.ones(20)], 1).view(-1, 1, 1, 2)
    s = A.recon_error(proj, torch.cat([normal, odd]))
    assert torch.allclose(s[:20], torch.zeros(20)) and torch.allclose(s[20:], torch.full((20,), 0.5))
    assert A.auroc(s, torch.arange(40) >= 20) == 1.0


# --------------------------------------------------------------------------- robustness
def test_corrupted_recon_mse_of_the_identity_is_the_noise_energy():
    x = torch.full((400, 1, 10, 10), 0.6)
    ident = lambda x: x  # noqa: E731
    assert RB.corrupted_recon_mse(ident, x, "none", 0.0, 0) == 0.0
    assert RB.corrupted_recon_mse(ident, x, "gaussian", 0.3, 0) == pytest.approx(0.09, rel=0.02)
    assert RB.corrupted_recon_mse(ident, x, "masking", 0.25, 0) == pytest.approx(0.25 * 0.36, rel=0.03)
    # salt & pepper: half the hit pixels become 1 (err 0.16), half 0 (err 0.36)
    assert RB.corrupted_recon_mse(ident, x, "salt_pepper", 0.2, 0) == pytest.approx(
        0.2 * (0.16 + 0.36) / 2, rel=0.04)
    assert RB.corrupted_recon_mse(lambda x: torch.full_like(x, 0.6), x, "gaussian", 0.5, 0) == 0.0


# --------------------------------------------------------------------------- probes
def test_linear_probe_reads_separable_codes_and_not_noise():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(400) % 4
    centres = torch.randn(4, 6, generator=g) * 5
    z = centres[y] + torch.randn(400, 6, generator=g)
    assert PR.linear_probe(z[:300], y[:300], z[300:], y[300:]) == 1.0
    noise = torch.randn(400, 6, generator=g)
    assert PR.linear_probe(noise[:300], y[:300], noise[300:], y[300:]) < 0.45
    tr, te = PR.pca_codes(torch.rand(50, 1, 3, 3), torch.rand(7, 1, 3, 3), 4)
    assert tr.shape == (50, 4) and te.shape == (7, 4)
    assert bool((tr.var(0)[:-1] >= tr.var(0)[1:]).all())  # principal components in order


def test_labelled_subset_is_balanced_and_reinitialise_draws_new_weights():
    y = torch.arange(1000) % 10
    idx = FT.labelled_subset(y, 100, 10, seed=1)
    assert len(idx) == len(set(idx.tolist())) == 100
    assert torch.bincount(y[idx], minlength=10).tolist() == [10] * 10
    assert len(FT.labelled_subset(y, 105, 10, seed=1)) == 105
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    fresh = FT.reinitialise(net, 0)
    assert not torch.equal(fresh[0].weight, net[0].weight)
    assert torch.equal(FT.reinitialise(net, 0)[0].weight, fresh[0].weight)  # seeded


def test_few_label_fine_tuning_learns_an_easy_task(engine_cfg):
    from conftest import tiny_split

    torch.manual_seed(0)
    model = build("ae", (1, 8, 8), variant_section("ae"), hidden=[32], latent_dim=8)
    train, test = tiny_split(400, seed=0), tiny_split(200, seed=0)
    quiet = engine_cfg.model_copy(update={"progress": False})
    acc = FT.few_label_accuracy(model, 8, train, test.x.float() / 255, test.y, 100, False, 0,
                                num_classes=10, steps=150, batch_size=50, lr=3e-3, engine=quiet)
    assert acc > 0.9
    frozen = FT.reinitialise(model, 1)
    for p in frozen.parameters():  # what the analyze stage hands over: a frozen model
        p.requires_grad_(False)
    acc_frozen_in = FT.few_label_accuracy(frozen, 8, train, test.x.float() / 255, test.y, 100,
                                          False, 0, num_classes=10, steps=150, batch_size=50,
                                          lr=3e-3, engine=quiet)
    assert acc_frozen_in == acc  # the encoder is fine-tuned even if handed over frozen
    before = [p.clone() for p in model.parameters()]
    FT.few_label_accuracy(model, 8, train, test.x.float() / 255, test.y, 50, True, 0,
                          num_classes=10, steps=5, batch_size=50, lr=3e-3, engine=quiet)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # a copy is tuned


# --------------------------------------------------------------------------- latent pictures
def test_latent_projection_and_grid():
    z = torch.randn(500, 2)
    z2, label = LT.project_2d(z)
    assert torch.equal(z2, z) and "h" in label
    g = torch.Generator().manual_seed(0)
    z5 = torch.randn(500, 5, generator=g) * torch.tensor([5.0, 0.1, 0.1, 3.0, 0.1])
    z2, _ = LT.project_2d(z5)
    assert z2.var(0)[0] == pytest.approx(25, rel=0.2) and z2.var(0)[1] == pytest.approx(9, rel=0.2)
    grid = LT.grid_codes(z, 5)
    q = torch.quantile(z.double(), torch.tensor([0.01, 0.99], dtype=torch.double), dim=0)
    assert grid.shape == (25, 2)
    assert grid[0, 0] == pytest.approx(float(q[0, 0])) and grid[0, 1] == pytest.approx(float(q[1, 1]))
    assert grid[-1, 0] == pytest.approx(float(q[1, 0])) and grid[-1, 1] == pytest.approx(float(q[0, 1]))


# --------------------------------------------------------------------------- stacked AE
def test_stacked_ae_pretrains_one_layer_at_a_time_then_the_whole_stack():
    from genbench.models.base import Batch

    torch.manual_seed(0)
    m = build("ae", (1, 8, 8), variant_section("stacked_ae"), hidden=[16, 8], latent_dim=4,
              layerwise_steps=2)
    enc = [l for l in m.encoder.modules() if isinstance(l, torch.nn.Linear)]
    dec = [l for l in m.decoder.modules() if isinstance(l, torch.nn.Linear)]
    batch = Batch(torch.rand(6, 1, 8, 8), torch.zeros(6, dtype=torch.long))
    phases = []
    for step in range(9):
        m.zero_grad(set_to_none=True)
        out = m.losses(batch, "ae")
        out["loss"].backward()
        k = m.phase()
        phases.append(k)
        trained = {id(p) for p in m.parameters() if p.grad is not None}
        if k is not None:  # only encoder layer k and its mirror decoder layer get gradients
            want = {id(p) for lin in (enc[k], dec[len(enc) - 1 - k]) for p in lin.parameters()}
            assert trained == want, (step, k)
            assert float(out["phase"]) == k
        else:
            assert trained == {id(p) for p in m.parameters()}
        m.on_step_end("ae")
    assert phases == [0, 0, 1, 1, 2, 2, None, None, None]
    # the phase survives a save/load (resume): steps_done is a buffer
    m2 = build("ae", (1, 8, 8), variant_section("stacked_ae"), hidden=[16, 8], latent_dim=4,
               layerwise_steps=2)
    m2.load_state_dict(m.state_dict())
    assert m2.phase() is None and int(m2.steps_done) == 9
    with pytest.raises(Exception, match="arch: mlp"):
        build("ae", (1, 8, 8), variant_section("stacked_ae"), arch="conv")


def test_vae2d_and_ae2d_have_two_dimensional_codes():
    for name in ("ae2d", "vae2d"):
        sec = variant_section(name)
        assert sec["latent_dim"] == 2
        m = build(sec["kind"], (1, 8, 8), sec)
        assert m.encode(torch.rand(3, 1, 8, 8)).shape == (3, 2)
        assert not math.isnan(float(m.decode(torch.zeros(1, 2)).sum()))
