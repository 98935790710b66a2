"""The shared pieces of the model recipes, each against its definition or an independent
reference: DiffAugment's policies, the generator's weight average, the code density (vs
scikit-learn), the sample-quality gate, the prior-match test (vs a by-hand MMD and the
closed-form Gaussian KL of torch.distributions), the label-swap test, and the engine's
learning-curve snapshots (equal to the weights at that step, kept over a resume)."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import build, tiny_split, variant_section

from genbench import metrics as M
from genbench.analysis import codes as CD
from genbench.core import engine, transforms
from genbench.core.config import EngineConfig
from genbench.nn import augment as AUG
from genbench.nn.density import CodeDensity
from genbench.nn.ema import EMA


# ----------------------------------------------------------------------------- DiffAugment
def test_translation_shifts_each_image_by_an_integer_within_the_ratio():
    torch.manual_seed(0)
    x = torch.full((64, 1, 28, 28), -1.0)
    x[:, :, 14, 14] = 1.0  # one lit pixel per image
    out = AUG.translation(x, background=-1.0)
    assert out.shape == x.shape
    for img in out:
        lit = (img[0] == 1).nonzero()
        assert len(lit) == 1  # moved, not blurred or lost (±4 px keeps the centre pixel inside)
        dy, dx = (lit[0] - 14).tolist()
        assert max(abs(dy), abs(dx)) <= 4  # round(28 / 8) = 4 px, the paper's 1/8
    assert {tuple((img[0] == 1).nonzero()[0].tolist()) for img in out} != {(14, 14)}
    assert set(out.unique().tolist()) == {-1.0, 1.0}  # the border is filled with background


def test_cutout_sets_a_square_of_half_the_size_to_background():
    torch.manual_seed(0)
    x = torch.ones(32, 1, 28, 28)
    out = AUG.cutout(x, background=-1.0)
    hidden = (out == -1).sum((1, 2, 3))
    assert (hidden <= 14 * 14).all() and (hidden > 0).all()
    assert (hidden == 14 * 14).any()  # a square wholly inside the image: 14 x 14 pixels


def test_diff_augment_passes_gradients_to_the_images():
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28, requires_grad=True)
    AUG.diff_augment(x, ["translation", "cutout"], -1.0).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- EMA
def test_ema_is_the_warmed_up_exponential_average_of_the_weights():
    net = torch.nn.Linear(3, 2)
    ema = EMA(net, decay=0.9)
    avg = net.weight.detach().clone()
    for t in range(30):
        with torch.no_grad():
            net.weight.add_(torch.randn_like(net.weight))
        ema.update(net)
        d = min(0.9, (1 + t) / (10 + t))
        avg = d * avg + (1 - d) * net.weight.detach()
    assert torch.allclose(ema.net.weight, avg, atol=1e-6)
    assert not any(p.requires_grad for p in ema.parameters())


def test_a_gan_with_ema_samples_from_the_average_not_the_last_generator():
    torch.manual_seed(0)
    gan = build("gan", (1, 8, 8), variant_section("gan"), ema=0.99)
    with torch.no_grad():
        for p in gan.gen.parameters():
            p.add_(1.0)  # the trained G moved; the average has not been updated yet
    z = torch.randn(4, gan.cfg.z_dim)
    gan.eval()
    assert not torch.allclose(gan.generate(z), (gan.gen(z) + 1) / 2)
    assert torch.allclose(gan.generate(z), (gan.gen_ema(z) + 1) / 2)
    gan.on_step_end("gen")
    assert int(gan.gen_ema.updates) == 1


# ----------------------------------------------------------------------------- code density
def test_gmm_code_density_is_scikit_learns_fit_and_samples_its_components():
    from sklearn.mixture import GaussianMixture

    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]])
    h = torch.cat([c + 0.5 * torch.randn(300, 2, generator=g) for c in centres])
    d = CodeDensity(2, "gmm", 3)
    d.fit(h, seed=0)
    ref = GaussianMixture(3, covariance_type="full", random_state=0, max_iter=200,
                          reg_covar=1e-6).fit(h.double().numpy())
    assert torch.allclose(d.means.double(), torch.from_numpy(ref.means_), atol=1e-5)
    assert torch.allclose(d.weights.double(), torch.from_numpy(ref.weights_), atol=1e-6)
    s = d.sample(3000, torch.Generator().manual_seed(1))
    nearest = torch.cdist(s, centres).argmin(1)
    assert torch.bincount(nearest, minlength=3).min() > 800  # every component drawn
    assert (torch.cdist(s, centres).min(1).values < 2.5).float().mean() > 0.99  # none between


# ----------------------------------------------------------------------------- the gate
def _metrics(conf, hist, recall, covered=None):
    return {"mean_confidence": conf, "class_hist": hist, "recall": recall,
            "classes_covered": covered if covered is not None else sum(v >= 0.01 for v in hist)}


def test_sample_gate_bars_per_family_and_collapse():
    even = [0.1] * 10
    ok = M.sample_gate(_metrics(0.95, even, 0.6), "GANs")
    assert ok["reads_as_digits"] is True and ok["collapsed"] is False
    blurred = _metrics(0.87, even, 0.6)  # passes the 0.85 bar of the autoencoders, not 0.90
    assert M.sample_gate(blurred, "Autoencoders")["reads_as_digits"] is True
    gan = M.sample_gate(blurred, "GANs")
    assert gan["reads_as_digits"] is False and gan["gate"]["failed"] == ["mean_confidence"]
    skewed = _metrics(0.95, [0.02] + [0.98 / 9] * 9, 0.6)
    assert M.sample_gate(skewed, "GANs")["gate"]["failed"] == ["min_class_share"]
    one_class = _metrics(0.99, [1.0] + [0.0] * 9, 0.2)
    assert M.sample_gate(one_class, "GANs")["collapsed"] is True
    no_recall = M.sample_gate(_metrics(0.99, even, 0.01), "GANs")
    assert no_recall["collapsed"] is True and "recall" in no_recall["gate"]["failed"]
    exempt = M.sample_gate(_metrics(0.7, even, 0.1), "Linear models and mixtures", gated=False)
    assert exempt["reads_as_digits"] is None and exempt["collapsed"] is False


# ----------------------------------------------------------------------------- prior match
def test_mmd2_unbiased_equals_the_definition_by_hand():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 3, generator=g), torch.randn(5, 3, generator=g) + 0.5
    s = 1.3

    def k(a, b):
        return math.exp(-float(((a - b) ** 2).sum()) / (2 * s * s))
    xx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / (7 * 6)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(7) for j in range(5)) / (7 * 5)
    assert CD.mmd2_unbiased(x, y, s) == pytest.approx(xx + yy - 2 * xy, rel=1e-6)


def test_gaussian_kl_to_standard_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2000, 3, generator=g, dtype=torch.float64) @ torch.tensor(
        [[1.5, 0, 0], [0.3, 0.7, 0], [0, 0, 1.0]], dtype=torch.float64) + 0.4
    mu, cov = z.mean(0), torch.cov(z.T)
    ref = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(mu, cov),
        torch.distributions.MultivariateNormal(torch.zeros(3, dtype=torch.float64),
                                               torch.eye(3, dtype=torch.float64)))
    assert CD.gaussian_kl_to_standard(z) == pytest.approx(float(ref), rel=1e-9)


def test_prior_match_p_values_are_calibrated_and_reject_a_shifted_code():
    """Under the null (codes drawn from the prior) the permutation p-value is uniform: its mean
    over 12 draws near 1/2 (sd of that mean 0.08); a shifted, shrunk code is rejected."""
    def test(seed, shift):
        z = torch.randn(300, 4, generator=torch.Generator().manual_seed(seed))
        return CD.prior_match(z * (0.5 if shift else 1.0) + shift,
                              torch.Generator().manual_seed(100 + seed), 100)
    null = [test(s, 0.0) for s in range(12)]
    assert 0.3 < sum(r["p_value"] for r in null) / 12 < 0.7
    assert all(r["gaussian_kl"] < 0.08 for r in null)
    shifted = test(0, 1.0)
    assert shifted["p_value"] < 0.02 and shifted["gaussian_kl"] > 0.5


def test_label_swap_measures_whether_the_decoder_follows_the_label():
    n, k = 200, 10
    y = torch.arange(n) % k
    x = torch.zeros(n, k)

    def probs(images):  # the "evaluator": reads the class off the image itself
        return images

    def follows(z, label):  # decodes the label it is given
        return torch.nn.functional.one_hot(label, k).float()

    def ignores(z, label):  # decodes the class stored in the code
        return z

    def encode(images, label):
        return torch.nn.functional.one_hot(label, k).float()

    g = torch.Generator().manual_seed(0)
    assert CD.label_swap(encode, follows, probs, x, y, k, g)["swap_accuracy"] == 1.0
    out = CD.label_swap(encode, ignores, probs, x, y, k, g)
    assert out["swap_accuracy"] == 0.0 and out["kept_old_label"] == 1.0


# ----------------------------------------------------------------------------- curves
def test_snapshots_are_the_weights_at_their_steps_and_survive_a_resume(tmp_path):
    cfg = EngineConfig(device="cpu", checkpoint_every=4, log_every=2, progress=False)
    split = tiny_split(64)

    def run(steps, snapshots, ck=None):
        torch.manual_seed(0)
        model = build("vae", (1, 8, 8), variant_section("vae"))
        res = engine.fit(model, split, transform=transforms.get(model.input_transform),
                         steps=steps, batch_size=16, seed=0, engine=cfg, name="vae",
                         ckpt_path=ck, meta={"fingerprint": "x"}, snapshots=snapshots)
        return model, res

    at = engine.curve_steps(10, 5)
    assert at == [2, 4, 6, 8, 10]
    _, full = run(10, at)
    assert [p["step"] for p in full.snapshots] == at
    six, _ = run(6, [])
    for k, v in six.state_dict().items():  # the snapshot at step 6 = a 6-step run's weights
        assert torch.equal(full.snapshots[2]["state"][k], v), k
    assert all(b["cpu_seconds"] >= a["cpu_seconds"] for a, b in zip(full.snapshots,
                                                                      full.snapshots[1:]))
    ck = tmp_path / "ck.pt"
    run(8, at, ck)  # stops at 8 with its checkpoint, then a longer run resumes from it
    _, resumed = run(10, at, ck)
    assert resumed.resumed_from == 8
    assert [p["step"] for p in resumed.snapshots] == at
    for a, b in zip(full.snapshots, resumed.snapshots):
        assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])


def test_equalised_layers_scale_weights_by_he_constant_and_lr_multiplier():
    """Karras et al. 2018 §4.1: the stored weight is N(0, 1) / lr_mul, used as w · lr_mul /
    sqrt(fan_in); its gradient (what Adam normalises) shrinks by the same factor."""
    from genbench.nn.equalized import EqualConv2d, EqualLinear

    torch.manual_seed(0)
    lin = EqualLinear(400, 300, lr_mul=0.01, bias_init=0.5)
    assert float(lin.weight.std()) == pytest.approx(100, rel=0.02)
    x = torch.randn(8, 400)
    ref = x @ (lin.weight * 0.01 / 20).T + 0.5 * 0.01
    assert torch.allclose(lin(x), ref, atol=1e-5)
    out = EqualLinear(400, 300)(torch.randn(4096, 400))
    assert float(out.std()) == pytest.approx(1.0, rel=0.05)  # He-scaled forward pass
    conv = EqualConv2d(8, 4, 3, padding=1)
    y = torch.randn(2, 8, 5, 5)
    assert torch.allclose(conv(y), torch.nn.functional.conv2d(
        y, conv.weight / math.sqrt(72), conv.bias, padding=1), atol=1e-6)
