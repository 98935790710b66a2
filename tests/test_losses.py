"""Losses against hand-computed values and torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from genbench.core import losses as L


def t(*v):
    return torch.tensor(v, dtype=torch.float64)


def test_nonsaturating_discriminator_at_chance_is_2_log_2():
    assert L.d_nonsaturating(t(0.0), t(0.0)).item() == pytest.approx(2 * math.log(2))


def test_nonsaturating_values():
    # D(x) = sig(2), D(G(z)) = sig(-1): -log sig(2) - log(1 - sig(-1))
    want = -math.log(1 / (1 + math.exp(-2))) - math.log(1 - 1 / (1 + math.exp(1)))
    assert L.d_nonsaturating(t(2.0), t(-1.0)).item() == pytest.approx(want)
    assert L.g_nonsaturating(t(-1.0)).item() == pytest.approx(-math.log(1 / (1 + math.exp(1))))


def test_minimax_generator_is_log_one_minus_d():
    # log(1 - D(G(z))) with D = sig(0.5)
    assert L.g_minimax(t(0.5)).item() == pytest.approx(math.log(1 - 1 / (1 + math.exp(-0.5))))


def test_least_squares():
    assert L.d_least_squares(t(1.0), t(0.0)).item() == 0
    assert L.d_least_squares(t(0.0), t(1.0)).item() == pytest.approx(1.0)
    assert L.g_least_squares(t(0.0, 1.0)).item() == pytest.approx(0.25)  # 0.5 * mean(1, 0)


def test_wasserstein_and_hinge():
    assert L.d_wasserstein(t(3.0, 1.0), t(0.5)).item() == pytest.approx(0.5 - 2.0)
    assert L.g_wasserstein(t(0.5, 1.5)).item() == pytest.approx(-1.0)
    assert L.d_hinge(t(0.5), t(-0.5)).item() == pytest.approx(1.0)
    assert L.d_hinge(t(2.0), t(-2.0)).item() == 0


def test_bernoulli_nll_matches_torch_distributions():
    torch.manual_seed(0)
    logits, x = torch.randn(4, 1, 3, 3), torch.randint(0, 2, (4, 1, 3, 3)).float()
    want = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(L.bernoulli_nll(logits, x), want, atol=1e-5)


def test_gaussian_terms_match_torch_distributions():
    torch.manual_seed(0)
    mu, log_var, x = torch.randn(5, 4), torch.randn(5, 4), torch.randn(5, 4)
    std = (0.5 * log_var).exp()
    assert torch.allclose(L.kl_std_normal(mu, log_var),
                          kl_divergence(Normal(mu, std), Normal(0, 1)).sum(1), atol=1e-5)
    assert torch.allclose(L.gaussian_nll(mu, log_var, x), -Normal(mu, std).log_prob(x).sum(1),
                          atol=1e-5)
    assert torch.allclose(L.log_normal_diag(x, mu, log_var), Normal(mu, std).log_prob(x).sum(1),
                          atol=1e-5)
    assert torch.allclose(L.log_normal_std(x), Normal(0, 1).log_prob(x).sum(1), atol=1e-5)


def test_squared_error_is_the_seed_autoencoder_cost():
    assert torch.equal(L.squared_error(t(1.0, 2.0)[None], t(0.0, 0.0)[None]), t(5.0))
