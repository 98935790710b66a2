"""Issue 18's building blocks against hand-computed or independent values: self-attention,
BigGAN's orthogonal penalty / truncation / projection, StyleGAN's modulated convolution, style
mixing and path length, the caption rule, conditioning augmentation and the GAN-CLS loss."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import build, variant_section

from genbench.analysis import gan_studies as S
from genbench.core import captions as C
from genbench.core import losses as L
from genbench.nn.attention import SelfAttention2d
from genbench.nn.biggan import orthogonal_penalty, projection_logit, truncated_normal
from genbench.nn.stylegan import ModulatedConv2d
from genbench.nn.text import CaptionSource, ConditioningAugmentation


# ----------------------------------------------------------------------------- SAGAN
def test_attention_starts_as_identity_and_matches_a_loop():
    torch.manual_seed(0)
    a = SelfAttention2d(16, pool=False)
    x = torch.randn(2, 16, 4, 4)
    assert torch.equal(a(x), x)  # γ = 0
    with torch.no_grad():
        a.gamma.fill_(0.7)
    got = a(x)
    # the definition, position by position: o_i = Σ_j softmax_j(f_iᵀ g_j) h_j; y = x + γ v(o)
    f, g, h = (m(x).flatten(2) for m in (a.f, a.g, a.h))  # (B, C', N)
    want = torch.empty_like(got)
    for b in range(2):
        o = torch.zeros(h.shape[1], 16)
        for i in range(16):
            w = torch.softmax(torch.stack([f[b, :, i] @ g[b, :, j] for j in range(16)]), 0)
            o[:, i] = (h[b] * w).sum(1)
        want[b] = x[b] + 0.7 * a.v(o.view(1, -1, 4, 4))[0]
    assert torch.allclose(got, want, atol=1e-5)


def test_attention_map_rows_are_distributions():
    a = SelfAttention2d(16)
    a.keep_map = True
    a(torch.randn(3, 16, 6, 6))
    assert a.last_map.shape == (3, 36, 9)  # keys max-pooled 2×
    assert torch.allclose(a.last_map.sum(-1), torch.ones(3, 36))


# ----------------------------------------------------------------------------- BigGAN
def test_orthogonal_penalty_is_the_off_diagonal_gram_norm():
    torch.manual_seed(0)
    ws = [torch.randn(6, 3, 3, 3, dtype=torch.float64), torch.randn(40, 5, dtype=torch.float64)]
    want = 0.0
    for w in ws:
        m = w.flatten(1).numpy()
        gram = m @ m.T
        want += ((gram * (1 - np.eye(len(m)))) ** 2).sum()
    assert orthogonal_penalty(ws).item() == pytest.approx(want, rel=1e-10)
    q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))
    assert orthogonal_penalty([3 * q]).item() == pytest.approx(0, abs=1e-9)  # any scale


def test_truncated_normal_bounds_and_determinism():
    z = truncated_normal(2000, 8, 0.5, torch.Generator().manual_seed(1))
    assert z.abs().max() <= 0.5 and z.std() < 0.35  # uniform-ish on ±0.5: sd ≈ 0.28
    again = truncated_normal(2000, 8, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(z, again)
    plain = truncated_normal(10, 4, None, torch.Generator().manual_seed(2))
    assert torch.equal(plain, torch.randn(10, 4, generator=torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError):
        truncated_normal(3, 2, 0.0)


def test_projection_logit_by_hand():
    lin, emb = torch.nn.Linear(3, 1), torch.nn.Embedding(4, 3)
    phi, y = torch.randn(5, 3), torch.tensor([0, 3, 1, 1, 2])
    want = torch.stack([lin(phi[i]).squeeze() + emb.weight[y[i]] @ phi[i] for i in range(5)])
    assert torch.allclose(projection_logit(phi, y, lin, emb), want, atol=1e-6)


# ----------------------------------------------------------------------------- StyleGAN
def test_modulated_conv_equals_per_sample_weights():
    """conv(x·s, W)·d = conv(x, W') with W'_jik = s_i W_jik / sqrt(Σ_ik (s_i W_jik)²)
    (StyleGAN2 eq. 1-3), computed per sample as a grouped convolution."""
    torch.manual_seed(0)
    m = ModulatedConv2d(4, 6, 3, w_dim=5)
    x, w = torch.randn(3, 4, 7, 7), torch.randn(3, 5)
    s = m.affine(w)  # (B, Cin)
    weight = m.weight * m.weight_gain  # the equalised-lr weight as used: N(0, 1) / sqrt(fan_in)
    wp = weight[None] * s[:, None, :, None, None]  # (B, Cout, Cin, k, k)
    wp = wp / wp.pow(2).sum((2, 3, 4), keepdim=True).add(1e-8).sqrt()
    ref = F.conv2d(x.view(1, 12, 7, 7), wp.view(18, 4, 3, 3), padding=1, groups=3).view(3, 6, 7, 7)
    assert torch.allclose(m(x, w), ref, atol=1e-5)
    m.demodulate = False
    ref = F.conv2d(x.view(1, 12, 7, 7), (weight[None] * s[:, None, :, None, None]).view(18, 4, 3, 3),
                   padding=1, groups=3).view(3, 6, 7, 7)
    assert torch.allclose(m(x, w), ref, atol=1e-5)


def test_style_mixing_takes_layers_before_the_crossover_from_the_first_latent():
    m = build("stylegan", (1, 8, 8))
    w1, w2 = torch.zeros(2, 3), torch.ones(2, 3)
    ws = m.mixed(w1, w2, torch.tensor([2, 6]))  # (2, 6, 3)
    assert ws[0, :2].eq(0).all() and ws[0, 2:].eq(1).all() and ws[1].eq(0).all()
    assert m.num_ws == 6


def test_slerp_and_lerp():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    an, bn = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    assert torch.allclose(S.slerp(a, b, torch.zeros(5)), an, atol=1e-6)
    assert torch.allclose(S.slerp(a, b, torch.ones(5)), bn, atol=1e-5)
    mid = S.slerp(a, b, torch.full((5,), 0.3))
    assert torch.allclose(mid.norm(dim=1), torch.ones(5), atol=1e-6)
    ang = lambda u, v: torch.acos((u * v).sum(1).clamp(-1, 1))
    assert torch.allclose(ang(an, mid), 0.3 * ang(an, bn), atol=1e-5)  # constant angular speed
    assert torch.allclose(S.lerp(a, b, torch.full((5,), 0.25)), 0.75 * a + 0.25 * b)


def test_perceptual_path_length_of_a_linear_generator():
    """render(p) = 3p, features = identity, lerp: every d = 9‖b − a‖² exactly (a line)."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(300, 4, generator=g, dtype=torch.float64) for _ in range(2))
    t = torch.rand(300, generator=g, dtype=torch.float64)
    r = S.perceptual_path_length(S.lerp, (a, b), lambda p, i: 3 * p, lambda x: x, 1e-4, t,
                                 batch=64)
    d = 9 * (b - a).pow(2).sum(1)
    assert r["ppl_unfiltered"] == pytest.approx(float(d.mean()), rel=1e-6)
    lo, hi = np.quantile(d.numpy(), [0.01, 0.99])
    assert r["ppl"] == pytest.approx(float(d[(d >= lo) & (d <= hi)].mean()), rel=1e-6)
    assert r["pairs"] == 300


def test_mixing_sources_by_hand():
    pc = torch.tensor([1, 2, 3, 4, 5])
    pf = torch.tensor([1, 7, 8, 9, 0])  # the first pair: same digit, left out
    pm = torch.tensor([1, 2, 8, 4, 6])
    r = S.mixing_sources(pc, pf, pm)
    assert r == {"pairs_different": 4, "class_from_coarse": 0.5, "class_from_fine": 0.25,
                 "class_from_neither": 0.25}


# ----------------------------------------------------------------------------- captions
def _bar(shear: float, width: int = 2) -> torch.Tensor:
    """A vertical bar, its top shifted right by shear · (rows above the centre)."""
    img = torch.zeros(1, 1, 28, 28)
    for r in range(6, 22):
        c = round(14 + shear * (14 - r))
        img[0, 0, r, c:c + width] = 1.0
    return img


def test_caption_measures():
    upright, right, left = _bar(0.0), _bar(0.5), _bar(-0.5)
    m = C.measure(torch.cat([upright, right, left]))
    assert m["slant"][0].abs() < 1e-6 and m["slant"][1] > 0.3 and m["slant"][2] < -0.3
    assert m["thickness"][0].item() == pytest.approx(32 / 784)  # 16 rows × 2 pixels
    # radius of gyration of the upright bar: var over 16 rows (k²−1)/12 + over 2 columns 1/4
    assert m["size"][0].item() == pytest.approx(math.sqrt((16 ** 2 - 1) / 12 + 0.25), rel=1e-5)
    thick = C.measure(_bar(0.0, width=4))
    assert thick["thickness"] > m["thickness"][0]


def test_caption_levels_tokens_and_text():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(300, 1, 8, 8, generator=g) ** 3
    y = torch.arange(300) % 3
    th = C.fit_thresholds(x, y, 3)
    raw = C.measure(x)
    for k in range(3):  # numpy's quantiles of the class's values
        v = raw["thickness"][y == k].double().numpy()
        assert np.allclose(th["thickness"][k].numpy(), np.quantile(v, [1 / 3, 2 / 3]), atol=1e-6)
    lv = C.levels(raw, y, th)
    for i, name in enumerate(C.ATTRIBUTES):  # the levels split each class evenly
        counts = torch.bincount(lv[y == 0, i], minlength=len(C.ATTRIBUTES[name]))
        assert counts.max() - counts.min() <= 2
    tok = C.tokens(torch.tensor([7, 0]), torch.tensor([[2, 2, 1], [0, 1, 0]]))
    assert C.text(tok) == ["a thick right-slanted large seven", "a thin upright small zero"]
    assert tok.shape == (2, C.LENGTH) and tok.max() < len(C.VOCAB)


def test_caption_source_draws_from_class_frequencies():
    x = torch.cat([_bar(0.0, 2), _bar(0.0, 4), _bar(0.0, 6)] * 4)  # thin, medium, thick ×4
    y = torch.zeros(12, dtype=torch.long)
    src = CaptionSource(2)
    src.fit(x, y)
    lv, _ = src.of_images(x, y)
    assert lv[:3, 0].tolist() == [0, 1, 2]
    assert torch.allclose(src.freq_thickness[0], torch.full((3,), 1 / 3))
    drawn, tok = src.draw(torch.zeros(6, dtype=torch.long), torch.Generator().manual_seed(0),
                          {"thickness": 2})
    assert drawn[:, 0].eq(2).all() and all(t.startswith("a thick") for t in C.text(tok))


# ----------------------------------------------------------------------------- text GANs
def test_conditioning_augmentation():
    ca = ConditioningAugmentation(4, 3)
    phi = torch.randn(5, 4)
    mu, log_var = ca.fc(torch.relu(phi)).chunk(2, 1)
    c0, kl = ca(phi, torch.zeros(5, 3))
    assert torch.allclose(c0, mu)
    want = 0.5 * (log_var.exp() + mu ** 2 - 1 - log_var).sum(1)
    assert torch.allclose(kl, want)


def test_matching_aware_loss_is_reeds():
    """GAN-CLS (Reed et al. 2016, Alg. 1): L_D = −log D(x,h) − ½[log(1−D(x,ĥ)) + log(1−D(x̂,h))]
    is the cross entropy with the two negatives concatenated (equal counts)."""
    r, w, f = torch.randn(6), torch.randn(6), torch.randn(6)
    sig = torch.sigmoid
    want = -(torch.log(sig(r)).mean() + 0.5 * (torch.log(1 - sig(w)).mean()
                                                + torch.log(1 - sig(f)).mean()))
    assert L.d_nonsaturating(r, torch.cat([w, f])).item() == pytest.approx(want.item(), rel=1e-5)


#: (config, override, the modules it says it normalises)
SN_MODELS = [("sagan", {"gen_spectral_norm": True}, ("gen", "disc")),
             ("sagan_noattn", {"gen_spectral_norm": True}, ("gen", "disc")),
             ("sagan", {}, ("disc",)),
             ("biggan", {"spectral_norm": True}, ("gen", "disc")),
             ("dcgan", {"spectral_norm": True}, ("disc",))]


@pytest.mark.parametrize("name,override,parts", SN_MODELS, ids=[m[0] for m in SN_MODELS])
def test_spectral_norm_bounds_every_normalised_layer(name, override, parts):
    """σ_max = 1 (Miyato et al. 2018) for every Linear, Conv2d and ConvTranspose2d weight of the
    networks the model says it normalises, as the network uses it (W / σ̂ after the power
    iterations of training forwards); σ of a transposed convolution's weight with its output
    channels as rows (the matrix torch's spectral_norm normalises)."""
    torch.manual_seed(0)
    section = {**variant_section(name), **override}
    model = build(section["kind"], (1, 28, 28), section)
    model.train()
    g = torch.Generator().manual_seed(0)
    for _ in range(40):  # power iterations run in training mode, one per forward
        with torch.no_grad():
            model._sample(4, g, model.sample_labels(4))
            x = torch.rand(4, 1, 28, 28) * 2 - 1
            if name == "biggan":
                model.disc(x, torch.zeros(4, dtype=torch.long))
            else:
                model.disc(x)
    model.eval()
    seen = 0
    for part in parts:
        for m in getattr(model, part).modules():
            if not isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                continue
            assert hasattr(m, "parametrizations"), f"{name}.{part}: {m} is not normalised"
            w = m.weight.detach()  # (out, in, k, k); a transposed conv's is (in, out, k, k)
            rows = w.movedim(1, 0) if isinstance(m, torch.nn.ConvTranspose2d) else w
            sigma = float(torch.linalg.matrix_norm(rows.flatten(1), ord=2))
            assert sigma == pytest.approx(1.0, abs=0.02), f"{name}.{part}: {m} σ_max {sigma}"
            seen += 1
    assert seen >= 3
