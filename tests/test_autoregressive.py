"""PixelCNN / PixelRNN: causality by autograd, the sampling caches against the parallel pass, and
the exact likelihood against a hand computation."""

from __future__ import annotations

import math

import pytest
import torch

from genbench.models.registry import model_class
from genbench.nn.autoregressive import raster

ARCHS = [("pixelcnn", "plain"), ("pixelcnn", "gated"), ("pixelrnn", "row"),
         ("pixelrnn", "diagonal")]
IDS = [f"{k}-{a}" for k, a in ARCHS]


def make(kind: str, arch: str, shape, output="bernoulli", hidden=None, layers=3, seed=0):
    torch.manual_seed(seed)
    cls = model_class(kind)
    cfg = cls.Config(kind=kind, arch=arch, hidden=hidden or (12 if shape[0] == 3 else 8), layers=layers,
                     lr=1e-3, steps=1, batch_size=2, output=output)
    return cls(cfg, shape, 10).double()


def dependencies(model, shape, inputs: int = 3) -> torch.Tensor:
    """(C·P, C·P) booleans in raster-then-colour order: output (pixel p, colour c) depends on
    input (q, c') at any of ``inputs`` random points (a union: a dead ReLU at one point does not
    hide a connection)."""
    ch, height, width = shape
    n = ch * height * width
    seen = torch.zeros(n, n, dtype=torch.bool)
    for _ in range(inputs):
        x = torch.rand(1, *shape, dtype=torch.float64, requires_grad=True)
        jac = torch.autograd.functional.jacobian(lambda z: model.net(z)[0], x)
        jac = jac.reshape(model.levels, ch, height * width, ch, height * width).abs().sum(0)
        # reorder (c, p, c', q) -> (p, c, q, c'): raster order, colours inside a pixel
        seen |= (jac.permute(1, 0, 3, 2).reshape(n, n) != 0)
    return seen


def allowed(shape) -> torch.Tensor:
    """Strictly lower triangular in (pixel, colour) order: only earlier sub-pixels."""
    n = shape[0] * shape[1] * shape[2]
    return torch.ones(n, n).tril(-1).bool()


@pytest.mark.parametrize(("kind", "arch"), ARCHS, ids=IDS)
@pytest.mark.parametrize("shape", [(1, 6, 6), (3, 4, 4)], ids=["grey", "rgb"])
def test_output_never_depends_on_its_own_or_later_subpixels(kind, arch, shape):
    dep = dependencies(make(kind, arch, shape), shape)
    assert not (dep & ~allowed(shape)).any(), "an output sees its own or a later sub-pixel"
    assert dep.any()


def test_gated_pixelcnn_removes_the_blind_spot_that_plain_pixelcnn_has():
    shape = (1, 6, 6)
    plain = dependencies(make("pixelcnn", "plain", shape), shape)
    gated = dependencies(make("pixelcnn", "gated", shape), shape)
    missing_plain = allowed(shape) & ~plain
    assert missing_plain.any()  # e.g. pixel (1, 0) never sees (0, 5): the upper-right blind spot
    assert not (allowed(shape) & ~gated).any()


def test_the_dependency_analysis_finds_the_blind_spot_and_no_future():
    """The report's dependency analysis (autograd at one pixel) against the full Jacobian
    above: plain PixelCNN's blind spot is found, the gated one has none, nothing future."""
    from genbench.analysis import dependency as DP

    shape, (i, j) = (1, 6, 6), (4, 1)
    for arch, blind in (("plain", True), ("gated", False)):
        model = make("pixelcnn", arch, shape)
        seen = DP.dependency_field(model.logits, torch.rand(8, *shape, dtype=torch.float64), i, j)
        row = dependencies(model, shape)[i * 6 + j].view(6, 6)  # (H, W)
        assert torch.equal(seen, row), arch
        s = DP.field_summary(seen, i, j)
        assert s["seen_future"] == 0 and (s["blind_spot_pixels"] > 0) == blind, (arch, s)


def test_field_summary_by_hand():
    seen = torch.zeros(5, 5, dtype=torch.bool)
    seen[0, 1:4] = True  # row 0: cols 1-3
    seen[1, 1:3] = True  # row 1: cols 1-2 (col 3 missing: a hole in the box rows 0-1 x cols 1-3)
    seen[2, 0:2] = True  # target (2, 2): left in row
    s = DP_summary(seen)
    assert (s["rows_above"], s["cols_left"], s["cols_right"], s["box_above"]) == (2, 1, 1, 6)
    assert (s["blind_spot_pixels"], s["seen_past"], s["seen_future"]) == (1, 7, 0)
    assert s["seen_left_in_row"] == 2 and s["past_pixels"] == 12
    seen[3, 4] = True
    assert DP_summary(seen)["seen_future"] == 1


def DP_summary(seen):
    from genbench.analysis import dependency as DP

    return DP.field_summary(seen, 2, 2)


def test_diagonal_bilstm_sees_all_the_past_but_the_previous_rows_last_pixel():
    """The paper's complete dependency field, up to one pixel: (i-1, W-1) enters the network
    only through features of row i (mask A), which the forward LSTM at (i, j) sees for j ≥ W-4
    (the 7×7 first layer's reach) and the shifted reverse LSTM never sees."""
    shape = (1, 6, 6)
    h, w = shape[1:]
    missing = allowed(shape) & ~dependencies(make("pixelrnn", "diagonal", shape), shape)
    expected = torch.zeros_like(missing)
    for i in range(1, h):
        for j in range(w - 4):
            expected[i * w + j, (i - 1) * w + w - 1] = True
    assert torch.equal(missing, expected)


@pytest.mark.parametrize(("kind", "arch"), ARCHS, ids=IDS)
@pytest.mark.parametrize(("shape", "output"), [((1, 5, 5), "bernoulli"), ((3, 3, 4), "bernoulli"),
                                               ((1, 4, 4), "categorical")],
                         ids=["grey", "rgb", "8bit"])
def test_sampling_caches_give_the_parallel_pass_logits(kind, arch, shape, output):
    """Stepping pixel by pixel from the caches (how samples are drawn) with the pixels of a known
    image reproduces the one-pass logits of that image exactly."""
    m = make(kind, arch, shape, output)
    x = torch.rand(3, *shape, dtype=torch.float64)
    x = (x < 0.5).double() if output == "bernoulli" else (x * 255).round() / 255
    net_x = m._net_input(x)
    stepped = raster(m.net, shape, 3, lambda lg, i, j, c: net_x[:, c, i, j], "cpu",
                     torch.float64)
    assert torch.allclose(stepped, m.net(net_x), atol=1e-12)
    assert not [k for k in vars(m.net) if k.startswith("cache_")]  # caches are dropped


@pytest.mark.parametrize("output", ["bernoulli", "categorical"])
def test_nll_is_the_sum_of_per_subpixel_conditionals(output):
    """log p(x) = Σ log p(x_i | x_<i) computed by hand from the logits, and a probability
    distribution: over all 2^4 binary 2×2 images it sums to 1."""
    shape = (1, 2, 2)
    m = make("pixelcnn", "gated", shape, output, hidden=4)
    if output == "bernoulli":
        imgs = torch.tensor([[(k >> b) & 1 for b in range(4)] for k in range(16)],
                            dtype=torch.float64).view(16, *shape)
        ll = m.log_likelihood(imgs)
        assert math.isclose(float(torch.logsumexp(ll, 0)), 0.0, abs_tol=1e-10)
        p = torch.sigmoid(m.logits(imgs)[:, 0])
        by_hand = (imgs * p.log() + (1 - imgs) * (1 - p).log()).flatten(1).sum(1)
    else:
        imgs = torch.randint(0, 256, (5, *shape)).double() / 255
        ll = m.log_likelihood(imgs)
        logp = m.logits(imgs).log_softmax(1)  # (B, 256, C, H, W)
        idx = (imgs * 255).round().long()
        by_hand = logp.gather(1, idx[:, None]).flatten(1).sum(1)
    assert torch.allclose(ll, by_hand, atol=1e-10)


@pytest.mark.parametrize(("kind", "arch"), ARCHS, ids=IDS)
def test_samples_follow_the_models_own_likelihood(kind, arch):
    """A model trained on two 3×3 binary patterns: the share of samples equal to the first
    matches the model's exact p(pattern) (the sampler draws from the conditionals the NLL
    scores; training puts p near 1/2, far from the trivial 0 or 1)."""
    from genbench.models.base import Batch

    shape = (1, 3, 3)
    m = make(kind, arch, shape, hidden=8, layers=2).float()
    target = torch.tensor([1, 0, 1, 1, 1, 0, 0, 1, 1.0]).view(1, *shape)
    data = torch.cat([target, 1 - target]).repeat(8, 1, 1, 1)  # (16, 1, 3, 3)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    for _ in range(100):
        opt.zero_grad()
        m.losses(Batch(data, torch.zeros(16, dtype=torch.long)), "net")["loss"].backward()
        opt.step()
    m.cfg = m.cfg.model_copy(update={"sample_mean": False})  # the 0/1 draws
    n = 2000
    x = m.sample(n, torch.Generator().manual_seed(0))
    share = float((x == target).flatten(1).all(1).float().mean())
    p = float(m.log_likelihood(target).exp())
    assert 0.2 < p < 0.8, p  # trained part of the way: the check is not trivially 0 or 1
    assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / n), (share, p)
