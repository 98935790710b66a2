"""The autoencoder family's own mechanics against independent computations: corruptions,
the exact contractive penalty, the Gaussian fitted to the codes, conditional sampling."""

from __future__ import annotations

import pytest
import torch
from conftest import build, variant_section

from genbench.core import corruptions as C
from genbench.nn.jacobian import jacobian, jacobian_frobenius_sq


def test_corruptions_statistics():
    torch.manual_seed(0)
    x = torch.full((200, 1, 28, 28), 0.5)
    g = C.gaussian(x, 0.3) - x
    assert abs(g.mean().item()) < 0.01 and g.std().item() == pytest.approx(0.3, rel=0.02)
    m = C.masking(x, 0.25)
    assert (m == 0).float().mean().item() == pytest.approx(0.25, abs=0.01)
    assert set(m.unique().tolist()) == {0.0, 0.5}
    sp = C.salt_pepper(x, 0.2)
    assert (sp != 0.5).float().mean().item() == pytest.approx(0.2, abs=0.01)
    assert (sp == 1).float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert torch.equal(C.none(x, 0.9), x)


def test_jacobian_matches_torch_autograd_functional():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 7), torch.nn.Tanh(),
                              torch.nn.Linear(7, 3))
    x = torch.randn(4, 1, 3, 4)
    ours = jacobian(net, x)  # (4, 3, 12)
    for i in range(4):
        ref = torch.autograd.functional.jacobian(lambda v: net(v.view(1, 1, 3, 4))[0], x[i].flatten())
        assert torch.allclose(ours[i], ref, atol=1e-6)
    assert torch.allclose(jacobian_frobenius_sq(net, x), ours.pow(2).sum((1, 2)))


def test_contractive_penalty_is_differentiable_and_closed_form_for_one_sigmoid_layer():
    """h = σ(Wx + b): ‖J‖²_F = Σ_k (h_k(1-h_k))² ‖W_k‖² (Rifai et al. 2011)."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(6, 4)
    enc = torch.nn.Sequential(torch.nn.Flatten(), lin, torch.nn.Sigmoid())
    x = torch.rand(5, 1, 2, 3)
    h = enc(x)
    closed = ((h * (1 - h)).pow(2) * lin.weight.pow(2).sum(1)).sum(1)
    pen = jacobian_frobenius_sq(enc, x)
    assert torch.allclose(pen, closed, atol=1e-6)
    pen.sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_cae_trains_with_latent_dim_at_least_the_input_dim():
    from conftest import tiny_split

    from genbench.core import engine, transforms
    from genbench.core.config import EngineConfig

    model = build("ae", (1, 8, 8), variant_section("cae"), latent_dim=80)  # 80 ≥ 64 pixels
    res = engine.fit(model, tiny_split(64), transform=transforms.get("unit"), steps=6,
                     batch_size=16, seed=0, engine=EngineConfig(device="cpu", progress=False,
                                                                log_every=3), name="cae")
    assert all(torch.isfinite(torch.tensor(v)) for v in res.history[-1].values())
    assert res.history[-1]["penalty"] > 0


def test_ae_samples_from_the_gaussian_fitted_to_its_codes():
    torch.manual_seed(0)
    model = build("ae", (1, 8, 8), variant_section("ae"), latent_dim=3, code_density="gaussian")
    x = torch.rand(500, 1, 8, 8)
    with torch.no_grad():
        model.on_train_end(x, torch.zeros(500, dtype=torch.long))
        h = model.encode(x).double()
    assert torch.allclose(model.density.means[0].double(), h.mean(0), atol=1e-5)
    cov = model.density.chols[0].double() @ model.density.chols[0].double().T
    assert torch.allclose(cov, torch.cov(h.T), rtol=1e-3, atol=1e-6)


def test_conditional_vae_samples_depend_on_the_label():
    torch.manual_seed(0)
    model = build("vae", (1, 8, 8), variant_section("cvae"))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    zeros = model.sample(4, g(), labels=torch.zeros(4, dtype=torch.long))
    ones = model.sample(4, g(), labels=torch.ones(4, dtype=torch.long))
    assert not torch.allclose(zeros, ones)  # same noise, other class -> other images
