"""The GAN family against hand-computed values and seed 003's theory: D* = p/(p+q),
V(D*, G) = -log 4 + 2·JSD, per-sample gradient-penalty interpolates, spectral norm, clipping,
unrolled look-ahead, minibatch discrimination, BEGAN's k control, ProGAN's fade-in, the 2-D toys."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import build, variant_section

from genbench.core import losses as L
from genbench.metrics import code_class_matching
from genbench.models.base import Batch
from genbench.nn.gan import MinibatchDiscrimination, minibatch_stddev
from genbench.pipeline.toys import line2d, mixtures

R, F_ = torch.tensor([0.0, 2.0]), torch.tensor([-1.0, 1.0])  # real and fake logits


def sp(v: float) -> float:
    return math.log1p(math.exp(v))


def test_every_gan_loss_by_hand():
    assert float(L.d_nonsaturating(R, F_)) == pytest.approx((sp(0) + sp(-2)) / 2 + (sp(-1) + sp(1)) / 2)
    assert float(L.g_nonsaturating(F_)) == pytest.approx((sp(1) + sp(-1)) / 2)
    assert float(L.g_minimax(F_)) == pytest.approx(-(sp(-1) + sp(1)) / 2)
    assert float(L.d_least_squares(R, F_)) == pytest.approx(0.5 * (1 + 1) / 2 + 0.5 * (1 + 1) / 2)
    assert float(L.g_least_squares(F_)) == pytest.approx(0.5 * (4 + 0) / 2)
    assert float(L.d_wasserstein(R, F_)) == pytest.approx(0 - 1)
    assert float(L.g_wasserstein(F_)) == pytest.approx(0.0)
    assert float(L.d_hinge(R, F_)) == pytest.approx((1 + 0) / 2 + (0 + 2) / 2)
    # one-sided label smoothing: real target 0.9
    assert float(L.d_nonsaturating(R, F_, 0.1)) == pytest.approx(
        (0.9 * (sp(0) + sp(-2)) + 0.1 * (sp(0) + sp(2))) / 2 + (sp(-1) + sp(1)) / 2)
    assert float(L.d_least_squares(R, F_, 0.1)) == pytest.approx(
        0.5 * (0.9 ** 2 + 1.1 ** 2) / 2 + 0.5 * 1.0)


# --------------------------------------------------------------------------- seed 003's theory
def _normal_pdf(x, mu, s=1.0):
    return torch.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))


def test_trained_discriminator_approaches_the_optimal_d_star():
    """For p_data = N(0, 1) and p_g = N(1.5, 1): D*(x) = p_data / (p_data + p_g)."""
    torch.manual_seed(0)
    d = torch.nn.Sequential(torch.nn.Linear(1, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    for _ in range(1500):
        real, fake = torch.randn(512, 1), torch.randn(512, 1) + 1.5
        loss = L.d_nonsaturating(d(real).squeeze(1), d(fake).squeeze(1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.linspace(-1.5, 3.0, 46)[:, None]
    p, q = _normal_pdf(x, 0.0), _normal_pdf(x, 1.5)
    d_star = p / (p + q)
    with torch.no_grad():
        err = (torch.sigmoid(d(x)) - d_star).abs().max()
    assert err < 0.05, err


def test_value_at_d_star_is_minus_log_4_plus_two_jsd():
    """V(D*, G) = E_p log D* + E_q log(1 - D*) = -log 4 + 2 JSD(p, q), = -log 4 iff q = p;
    our discriminator loss is -V, estimated from samples with D*'s logits log(p/q)."""
    x = torch.linspace(-12, 14, 200001, dtype=torch.float64)
    dx = float(x[1] - x[0])
    for mu in (0.0, 0.7, 2.0):
        p, q = _normal_pdf(x, 0.0), _normal_pdf(x, mu)
        d_star = p / (p + q)
        v = float(((p * d_star.log() + q * (1 - d_star).log()) * dx).sum())
        m = (p + q) / 2
        jsd = 0.5 * float(((p * (p / m).log() + q * (q / m).log()) * dx).sum())
        assert v == pytest.approx(-math.log(4) + 2 * jsd, abs=1e-6)
        if mu == 0.0:
            assert v == pytest.approx(-math.log(4), abs=1e-9)
        g = torch.Generator().manual_seed(0)
        real = torch.randn(200000, generator=g, dtype=torch.float64)
        fake = torch.randn(200000, generator=g, dtype=torch.float64) + mu
        logit = lambda t: -0.5 * t ** 2 + 0.5 * (t - mu) ** 2  # noqa: E731 - log p/q
        assert float(L.d_nonsaturating(logit(real), logit(fake))) == pytest.approx(-v, abs=0.01)


# --------------------------------------------------------------------------- penalties
def test_gradient_penalty_uses_one_alpha_per_sample_and_matches_a_linear_critic():
    torch.manual_seed(0)
    real, fake = torch.rand(6, 1, 4, 4), torch.rand(6, 1, 4, 4)
    seen = []
    w = torch.randn(16)

    def critic(x):
        seen.append(x.detach())
        return x.flatten(1) @ w

    pen = L.gradient_penalty(critic, real, fake)
    ratio = ((seen[0] - fake) / (real - fake)).flatten(1)  # = α, constant within each sample
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-5)
    assert ratio[:, 0].std() > 0  # but different across samples
    assert float(pen) == pytest.approx((float(w.norm()) - 1) ** 2, rel=1e-5)  # ∇ = w everywhere
    assert float(L.dragan_penalty(critic, real)) == pytest.approx((float(w.norm()) - 1) ** 2,
                                                                   rel=1e-5)
    a = torch.tensor([0.0, 1.0, 0.25, 0.5, 0.5, 0.5])
    x = L.interpolates(real, fake, a)
    assert torch.equal(x[0], fake[0]) and torch.equal(x[1], real[1])


def test_penalty_gradient_reaches_the_critic():
    gan = build("gan", (1, 8, 8), variant_section("wgan_gp"))
    batch = Batch(torch.rand(8, 1, 8, 8) * 2 - 1, torch.zeros(8, dtype=torch.long))
    out = gan.losses(batch, "disc")
    assert "penalty" in out and "w_estimate" in out
    out["loss"].backward()
    assert all(p.grad is not None for p in gan.disc.parameters())


def test_spectral_norm_and_weight_clipping():
    torch.manual_seed(0)
    gan = build("gan", (1, 8, 8), variant_section("dcgan"), spectral_norm=True)
    gan.eval()
    for _ in range(30):  # power iterations run in training mode
        gan.disc.train()
        gan.disc(torch.randn(4, 1, 8, 8))
    gan.disc.eval()
    for m in gan.disc.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            s = torch.linalg.matrix_norm(m.weight.flatten(1), ord=2)
            assert float(s) == pytest.approx(1.0, abs=0.05)
    wgan = build("gan", (1, 8, 8), variant_section("wgan"))
    with torch.no_grad():
        for p in wgan.disc.parameters():
            p.mul_(100)
    wgan.on_step_end("disc")
    assert all(float(p.abs().max()) <= 0.01 + 1e-9 for p in wgan.disc.parameters())


def test_unrolled_generator_loss_sees_a_look_ahead_discriminator_without_changing_it():
    torch.manual_seed(0)
    base = dict(variant_section("gan"), hidden=[16, 16], z_dim=4)
    batch = Batch(torch.rand(16, 1, 8, 8) * 2 - 1, torch.zeros(16, dtype=torch.long))
    plain, unrolled = build("gan", (1, 8, 8), base), build("gan", (1, 8, 8), base,
                                                           unrolled_steps=3)
    unrolled.load_state_dict(plain.state_dict())
    before = {k: v.clone() for k, v in unrolled.disc.state_dict().items()}
    torch.manual_seed(1)
    lp = plain.losses(batch, "gen")["loss"]
    torch.manual_seed(1)
    lu = unrolled.losses(batch, "gen")["loss"]
    lu.backward()
    assert not torch.allclose(lp, lu)  # the look-ahead D differs from the current one
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in unrolled.gen.parameters())
    assert all(torch.equal(v, unrolled.disc.state_dict()[k]) for k, v in before.items())


def test_minibatch_discrimination_and_stddev_layers():
    mbd = MinibatchDiscrimination(5, kernels=3)
    same = mbd(torch.ones(4, 5))
    assert same.shape == (4, 8) and torch.allclose(same[:, 5:], torch.full((4, 3), 3.0))
    spread = mbd(torch.randn(4, 5) * 100)
    assert float(spread[:, 5:].max()) < 1e-3  # far apart: no closeness
    x = torch.randn(6, 2, 3, 3)
    out = minibatch_stddev(x)
    assert out.shape == (6, 3, 3, 3)
    assert torch.allclose(out[:, 2], x.std(0, unbiased=False).mean().expand(6, 3, 3))


def test_cgan_wrong_label_negatives_enter_the_discriminator_loss():
    torch.manual_seed(0)
    batch = Batch(torch.rand(8, 1, 8, 8) * 2 - 1, torch.arange(8) % 10)
    with_neg = build("gan", (1, 8, 8), variant_section("cgan"))
    without = build("gan", (1, 8, 8), variant_section("cgan"), wrong_label_negatives=False)
    without.load_state_dict(with_neg.state_dict())
    with_neg.eval(), without.eval()  # no dropout: the same D on the same inputs
    torch.manual_seed(2)
    a = with_neg.losses(batch, "disc")["loss"]
    torch.manual_seed(2)
    b = without.losses(batch, "disc")["loss"]
    assert not torch.allclose(a, b)
    s = with_neg.sample(20, torch.Generator().manual_seed(0))
    assert s.shape == (20, 1, 8, 8)


def test_began_k_follows_the_balance_and_stays_in_0_1():
    m = build("began", (1, 8, 8))
    m._balance.fill_(5.0)
    for _ in range(3):
        m.on_step_end("disc")
    assert float(m.k) == pytest.approx(3 * m.cfg.lambda_k * 5.0)
    m._balance.fill_(1e6)
    m.on_step_end("disc")
    assert float(m.k) == 1.0
    out = m.losses(Batch(torch.rand(4, 1, 8, 8) * 2 - 1, torch.zeros(4, dtype=torch.long)), "disc")
    assert {"convergence", "k", "l_real", "l_fake"} <= set(out)


@pytest.mark.parametrize("eta", [1, 2])
def test_began_reconstruction_loss_and_convergence_measure_by_hand(eta):
    torch.manual_seed(0)
    m = build("began", (1, 8, 8), eta=eta)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        rec = torch.tanh(m.disc["dec"](m.disc["enc"](x)))
        want = ((x - rec).abs() ** eta).mean((1, 2, 3))  # L(v) = mean |v - D(v)|^eta
        assert torch.allclose(m.recon_loss(x), want, atol=1e-6)
        torch.manual_seed(1)
        out = m.losses(Batch(x, torch.zeros(4, dtype=torch.long)), "disc")
    l_real, l_fake = float(out["l_real"]), float(out["l_fake"])
    assert l_real == pytest.approx(float(want.mean()), rel=1e-5)
    assert float(out["convergence"]) == pytest.approx(
        l_real + abs(m.cfg.gamma * l_real - l_fake), rel=1e-5)


def test_progan_schedule_and_fade_in_continuity():
    torch.manual_seed(0)
    m = build("progan", (1, 28, 28), variant_section("progan"), steps=50)
    seen = []
    for _ in range(50):
        seen.append(m.schedule())
        m.on_step_end("gen")
    levels = [lv for lv, _ in seen]
    assert levels[0] == 0 and levels[-1] == 2 and levels == sorted(levels)
    assert seen[10] == (1, 0.0) and seen[15] == (1, 0.5) and seen[20] == (1, 1.0)
    z = torch.randn(3, m.cfg.z_dim)
    with torch.no_grad():  # at α = 0 the grown generator equals the old one, upsampled
        old = m.gen(z, 0, 1.0)
        new = m.gen(z, 1, 0.0)
    assert new.shape == (3, 1, 14, 14)
    assert torch.allclose(new, torch.nn.functional.interpolate(old, scale_factor=2), atol=1e-6)


def test_infogan_code_matching():
    codes = torch.arange(100) % 10
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    assert code_class_matching(perm[codes], codes, 10) == {
        "class_accuracy": 1.0, "code_purity": 1.0, "code_classes": 10}
    collapsed = code_class_matching(torch.zeros(100, dtype=torch.long), codes, 10)
    assert collapsed["class_accuracy"] == pytest.approx(0.1) and collapsed["code_classes"] == 1


def test_aae_semi_supervised_draws_a_balanced_labelled_subset():
    m = build("aae", (1, 8, 8), variant_section("aae_semi"), labels=30)
    x, y = torch.rand(200, 1, 8, 8), torch.arange(200) % 10
    m.on_train_start(x, y)
    assert torch.bincount(m.lab_y, minlength=10).tolist() == [3] * 10
    assert all(bool((x == m.lab_x[i]).flatten(1).all(1).any()) for i in range(30))
    out = m.test_metrics(x[:5], y[:5])
    assert "label_accuracy" in out


# --------------------------------------------------------------------------- the 2-D toys
def test_line_gan_rotates_the_generator_toward_the_data(engine_cfg):
    quiet = engine_cfg.model_copy(update={"progress": False})
    _, res = line2d.run(steps=20, lr=0.5, batch_size=1024, seed=0, engine=quiet)
    v1 = res["v_after_first_gen_update"]
    assert res["angle_start_deg"] == pytest.approx(
        line2d.angle_deg(torch.tensor(line2d.V_START), torch.tensor(line2d.W_DATA)))
    assert line2d.angle_deg(torch.tensor(v1), torch.tensor(line2d.W_DATA)) < res["angle_start_deg"]
    assert v1[0] > 0.2 and v1[1] < 0.98  # toward (0.39, 0.92) as on the slide
    assert res["angle_final_deg"] < res["angle_start_deg"] / 2


def test_mode_metrics_on_known_samples():
    g = torch.Generator().manual_seed(0)
    x, k = mixtures.sample_mixture("ring", 2500, g)
    r = mixtures.mode_metrics(x, "ring", 20)
    # a 2-D isotropic Gaussian puts 1 - exp(-9/2) = 0.9889 of its mass within 3σ
    assert r["modes_captured"] == 8 and r["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    one = mixtures.mode_metrics(x[k == 3], "ring", 20)
    inside = (x[k == 3] - mixtures.MIXTURES["ring"][0][3]).norm(dim=1) <= 3 * 0.02
    assert one["modes_captured"] == 1 and one["counts"][3] == int(inside.sum())
    far = mixtures.mode_metrics(torch.full((100, 2), 10.0), "grid", 1)
    assert far["modes_captured"] == 0 and far["high_quality"] == 0.0
    assert len(mixtures.MIXTURES["grid"][0]) == 25


def test_toy_gan_variants_satisfy_the_contract(params):
    from genbench.models.registry import model_class, model_config

    for name, section in params.toys.mixtures.models.items():
        cfg = model_config(name, section, prefix=f"toys.mixtures.models.{name}")
        torch.manual_seed(0)
        m = model_class(cfg.kind)(cfg, (1, 1, 2), 1)
        batch = Batch(torch.randn(32, 1, 1, 2), torch.zeros(32, dtype=torch.long))
        for g in m.optimizer_groups():
            m.zero_grad(set_to_none=True)
            loss = m.losses(batch, g)["loss"]
            loss.backward()
            assert torch.isfinite(loss), (name, g)
        with torch.no_grad():
            s = m._sample(10, torch.Generator().manual_seed(0))
        assert s.shape == (10, 1, 1, 2)
