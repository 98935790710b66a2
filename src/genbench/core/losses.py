"""Losses as pure functions (tensors in, tensors out), picked by name from config.

GAN losses follow StudioGAN's layout: a discriminator loss ``d(real_logits, fake_logits)`` and a
generator loss ``g(fake_logits)`` per name. Reconstruction terms return one value per image
(summed over pixels, in nats where they are likelihoods).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


# ----------------------------------------------------------------------------- GAN losses
def d_nonsaturating(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0
                    ) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))): the discriminator's cross entropy (Goodfellow et al. 2014) on
    logits. ``smoothing`` s: one-sided label smoothing, real target 1 - s (Salimans et al. 2016)."""
    real_term = F.softplus(-real) if not smoothing else \
        (1 - smoothing) * F.softplus(-real) + smoothing * F.softplus(real)
    return real_term.mean() + F.softplus(fake).mean()


def g_nonsaturating(fake: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): strong gradients early in training (seed 000 'modified costs')."""
    return F.softplus(-fake).mean()


def g_minimax(fake: torch.Tensor) -> torch.Tensor:
    """log(1 - D(G(z))): the original minimax generator cost, saturates when D wins."""
    return -F.softplus(fake).mean()


def d_least_squares(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0
                    ) -> torch.Tensor:
    """LSGAN (Mao et al. 2017), a=0, b=c=1, with the 0.5 factors of Bios 740: the Pearson χ²
    form. ``smoothing`` s moves the real target to 1 - s."""
    return 0.5 * (real - (1 - smoothing)).pow(2).mean() + 0.5 * fake.pow(2).mean()


def g_least_squares(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (fake - 1).pow(2).mean()


def d_wasserstein(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """WGAN critic: maximise E[f(x)] - E[f(G(z))] (Arjovsky et al. 2017)."""
    return fake.mean() - real.mean()


def g_wasserstein(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def d_hinge(real: torch.Tensor, fake: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Hinge loss (Lim & Ye 2017; SN-GAN, BigGAN); the generator uses the Wasserstein form."""
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


#: losses whose real target can be smoothed (the others have no target)
SMOOTHABLE = ("non_saturating", "minimax", "least_squares")

GAN_LOSSES = {
    # name: (discriminator loss, generator loss)
    "non_saturating": (d_nonsaturating, g_nonsaturating),
    "minimax": (d_nonsaturating, g_minimax),
    "least_squares": (d_least_squares, g_least_squares),
    "wasserstein": (d_wasserstein, g_wasserstein),
    "hinge": (d_hinge, g_wasserstein),
}


# ----------------------------------------------------------------------------- D regularisers
def interpolates(real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """x̂ = α x + (1 - α) x̃ with one α per sample: alpha (N,) -> broadcast over (N, C, H, W)."""
    a = alpha.view(-1, *([1] * (real.dim() - 1)))
    return a * real + (1 - a) * fake


def grad_norm_penalty(critic, x_hat: torch.Tensor, target: float = 1.0) -> torch.Tensor:
    """E[(‖∇_x̂ critic(x̂)‖₂ - target)²] per-sample gradient norms, differentiable (create_graph)."""
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - target).pow(2).mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017; seed 000's cost): the gradient-norm penalty on random
    interpolates of real and fake, α ~ U[0, 1] drawn once per sample (not per pixel)."""
    alpha = torch.rand(real.shape[0], device=real.device)
    return grad_norm_penalty(critic, interpolates(real, fake.detach(), alpha))


def dragan_penalty(critic, real: torch.Tensor, c: float = 0.5) -> torch.Tensor:
    """DRAGAN (Kodali et al. 2017): the same penalty around perturbed real data,
    x̂ = x + α δ with δ = c · std(x) · U[0, 1] noise and one α per sample."""
    delta = c * real.std() * torch.rand_like(real)
    alpha = torch.rand(real.shape[0], device=real.device)
    return grad_norm_penalty(critic, interpolates(real + delta, real, alpha))


# ----------------------------------------------------------------------------- likelihood terms
def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | logits) per image, summed over pixels. (B, ...) -> (B,)"""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(mean: torch.Tensor, log_var: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log N(x; mean, exp(log_var)) per image, summed over pixels. (B, ...) -> (B,)"""
    nll = 0.5 * (math.log(2 * math.pi) + log_var + (x - mean).pow(2) * torch.exp(-log_var))
    return nll.flatten(1).sum(1)


def kl_std_normal(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(log_var)) || N(0, I)) per row. (B, J) -> (B,)"""
    return 0.5 * (log_var.exp() + mu.pow(2) - 1.0 - log_var).sum(1)


def log_normal_std(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last dim."""
    return -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(log_var)) summed over the last dim."""
    return -0.5 * (math.log(2 * math.pi) + log_var + (z - mu).pow(2) * torch.exp(-log_var)).sum(-1)


def squared_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors per image (seed 000's autoencoder cost). (B, ...) -> (B,)"""
    return (x_hat - x).pow(2).flatten(1).sum(1)
