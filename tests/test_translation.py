"""Image-to-image translation: the paired domains against independent computations, the
translation metrics against hand values and an independent SSIM, the networks' shapes, the
pool of past fakes, and the unpaired domain written by the data stages."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from genbench import evaluator as E
from genbench import metrics as M
from genbench.core import data as D
from genbench.core.config import DataConfig, TranslationConfig
from genbench.core.errors import ConfigError, DataError
from genbench.models.base import Batch
from genbench.models.registry import model_class
from genbench.models.translation import bicubic, downsample, hide_block, paired_input, sobel_edges
from genbench.nn.classifier import as_reference
from genbench.nn.translation import ImagePool, PatchGAN, ResNetGenerator, SRGenerator, UNet


def images(n=4, shape=(1, 28, 28), seed=0):
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- domains
def test_sobel_edges_match_scipy():
    x = images(3)
    got = sobel_edges(x)
    for i in range(3):
        img = x[i, 0].double().numpy()
        sx = ndimage.sobel(img, axis=1, mode="constant")
        sy = ndimage.sobel(img, axis=0, mode="constant")
        want = np.clip(np.hypot(sx, sy) / (4 * math.sqrt(2)), 0, 1)
        np.testing.assert_allclose(got[i, 0].numpy(), want, atol=1e-5)
    assert sobel_edges(torch.full((1, 3, 8, 8), 0.7))[..., 1:-1, 1:-1].abs().max() < 1e-6


def test_downsample_is_block_mean_and_bicubic_keeps_constants():
    x = images(2)
    lr = downsample(x, 4)
    assert lr.shape == (2, 1, 7, 7)
    assert torch.allclose(lr[0, 0, 1, 2], x[0, 0, 4:8, 8:12].mean())
    up = bicubic(torch.full((1, 1, 7, 7), 0.3), 4)
    assert up.shape == (1, 1, 28, 28) and torch.allclose(up, torch.full_like(up, 0.3), atol=1e-6)


def test_hide_block_hides_one_square_per_image_reproducibly():
    x = images(16)
    out, mask = hide_block(x, 12, torch.Generator().manual_seed(1))
    assert mask.shape == (16, 1, 28, 28)
    assert (mask.flatten(1).sum(1) == 144).all()
    for m in mask[:, 0]:  # one contiguous square
        rows, cols = m.nonzero(as_tuple=True)
        assert rows.max() - rows.min() == 11 and cols.max() - cols.min() == 11
    assert torch.equal(out[mask.bool()], torch.full_like(out[mask.bool()], 0.5))
    assert torch.equal(out[~mask.bool()], x[~mask.bool()])
    again, _ = hide_block(x, 12, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)


def test_paired_inputs_per_task():
    x, dom = images(2), TranslationConfig()
    assert torch.equal(paired_input("edges", x, dom), sobel_edges(x))
    assert torch.equal(paired_input("sr", x, dom), bicubic(downsample(x, 4), 4))
    assert paired_input("inpaint", x, dom, torch.Generator().manual_seed(0)).shape == x.shape
    with pytest.raises(ValueError, match="unknown translation task"):
        paired_input("colour", x, dom)


# ----------------------------------------------------------------------------- metrics
def test_l1_and_psnr_by_hand():
    x = torch.zeros(2, 1, 4, 4)
    y = torch.full((2, 1, 4, 4), 0.1)
    assert torch.allclose(M.l1_error(x, y), torch.tensor([0.1, 0.1], dtype=torch.double))
    assert torch.allclose(M.psnr(x, y), torch.tensor([20.0, 20.0], dtype=torch.double))
    assert M.psnr(x, x).tolist() == [100.0, 100.0]  # identical images: the cap, not inf


def test_ssim_equals_scikit_image():
    """skimage.metrics.structural_similarity with the Gaussian window of Wang et al. (σ 1.5,
    population covariance, data_range 1): the published definition the metric follows."""
    from skimage.metrics import structural_similarity

    x = images(3)
    y = (x + 0.2 * images(3, seed=1)).clamp(0, 1)
    got = M.ssim(x, y)
    want = [structural_similarity(x[i, 0].double().numpy(), y[i, 0].double().numpy(),
                                  data_range=1.0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False) for i in range(3)]
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-6)
    assert torch.allclose(M.ssim(x, x), torch.ones(3, dtype=torch.double))
    # colour: skimage's mean over channels
    xc = images(2, (3, 16, 20))
    yc = (xc + 0.1 * images(2, (3, 16, 20), seed=1)).clamp(0, 1)
    want = [structural_similarity(xc[i].double().numpy(), yc[i].double().numpy(), data_range=1.0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, channel_axis=0) for i in range(2)]
    np.testing.assert_allclose(M.ssim(xc, yc).numpy(), want, rtol=0, atol=1e-6)


class _Clf(torch.nn.Module):
    """A 'classifier' reading the class off the mean intensity (features = the mean)."""

    def features(self, x):
        return torch.cat([x.mean((1, 2, 3))[:, None], x.std((1, 2, 3))[:, None]], 1)

    def forward(self, x):
        return -((x.mean((1, 2, 3))[:, None] * 10 - torch.arange(10)) ** 2)

    def features_and_logits(self, x):
        return self.features(x), self(x)


def test_translation_metrics_of_perfect_outputs(params):
    y = torch.arange(40) % 10
    target = (torch.ones(40, 1, 28, 28) * (y[:, None, None, None] * 25.5 + 5)).to(torch.uint8)
    extract = E.FeatureExtractor(_Clf(), params.evaluator)
    stored = {"x": target, "target": target, "baseline": torch.zeros_like(target),
              "source_y": y}
    ref = as_reference(E.reference_features(extract, target))
    out = E.paired_translation_metrics(extract, ref, stored, params.evaluator, 10)
    assert out["model"]["l1"] == 0 and out["model"]["psnr"] == 100
    assert out["model"]["ssim"] == pytest.approx(1.0)
    assert out["model"]["class_accuracy"] == 1.0
    assert out["baseline"]["l1"] == pytest.approx(float(target.double().mean() / 255))
    u = {"x": target, "input": target, "cycle": target, "source_y": y, "b_x": target,
         "b_input": target, "b_cycle": target, "b_source_y": y}
    out = E.unpaired_translation_metrics(extract, extract, ref, ref, u, params.evaluator, 10)
    for d in ("a_to_b", "b_to_a"):
        assert out["model"][d]["cycle_l1"] == 0 and out["model"][d]["class_preservation"] == 1
        assert out["baseline"][d]["cycle_l1"] > 0  # an unrelated image is far from the input


# ----------------------------------------------------------------------------- networks
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_unet_keeps_the_shape_and_its_skips_line_up(depth):
    net = UNet(2, 1, 8, depth, 0.5)
    out = net(torch.randn(3, 2, 32, 32))
    assert out.shape == (3, 1, 32, 32) and out.abs().max() <= 1


def test_dropout_stays_on_at_test_time():
    net = UNet(1, 1, 8, 2, 0.5).eval()
    x = torch.randn(2, 1, 28, 28)
    assert not torch.equal(net(x), net(x))
    net.dropout = 0.0
    assert torch.equal(net(x), net(x))


def test_patchgan_resnet_and_sr_generator_shapes():
    assert PatchGAN(2, 8)(torch.randn(2, 2, 28, 28)).shape == (2, 1, 7, 7)
    assert ResNetGenerator(1, 8, 2, 2)(torch.randn(2, 1, 28, 28)).shape == (2, 1, 28, 28)
    assert SRGenerator(1, 8, 2, 4)(torch.randn(2, 1, 7, 7)).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="power of 2"):
        SRGenerator(1, 8, 2, 3)


def test_image_pool_fills_then_mixes_past_fakes():
    torch.manual_seed(0)
    pool = ImagePool(4, (1, 2, 2))
    first = torch.arange(3.0)[:, None, None, None].expand(3, 1, 2, 2)
    assert torch.equal(pool.query(first), first)  # filling: shown as they are
    second = 10 + torch.arange(3.0)[:, None, None, None].expand(3, 1, 2, 2)
    assert torch.equal(pool.query(second), second)  # one more fills it (the rest as they are)
    assert int(pool.filled) == 4
    seen = set()
    for i in range(20):
        new = 100 + i + torch.zeros(8, 1, 2, 2)
        out = pool.query(new)
        vals = out[:, 0, 0, 0].tolist()
        seen.update(v for v in vals if v != 100 + i)
        # each returned image is the new fake or one the pool held
        assert all(v == 100 + i or v < 100 + i for v in vals)
    assert seen  # past fakes were shown
    assert torch.equal(ImagePool(0, (1, 2, 2)).query(first), first)


# ----------------------------------------------------------------------------- models
def build(kind, **kw):
    cls = model_class(kind)
    return cls(cls.Config.model_validate({"kind": kind, "steps": 2, "batch_size": 4, **kw}),
               (1, 28, 28), 10)


def test_l1_only_unet_has_no_discriminator_and_pix2pix_adds_the_adversarial_term():
    plain, gan = build("pix2pix", adv_weight=0.0), build("pix2pix")
    assert set(plain.optimizer_groups()) == {"gen"}
    assert set(gan.optimizer_groups()) == {"disc", "gen"}
    batch = Batch(images(4) * 2 - 1, torch.zeros(4, dtype=torch.long))
    torch.manual_seed(0)
    out = gan.losses(batch, "gen")
    assert torch.allclose(out["loss"], 100 * out["l1"] + out["adv"], rtol=1e-5)


def test_cyclegan_without_the_other_domain_fails_in_one_line():
    model = build("cyclegan")
    batch = Batch(images(4) * 2 - 1, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ConfigError, match="needs the other domain"):
        model.losses(batch, "gen")


def test_cyclegan_losses_are_the_sum_of_their_terms():
    model = build("cyclegan", lambda_id=0.5)  # the paper's identity weight (conf: 0)
    model.attach_unpaired((images(8, seed=3) * 255).to(torch.uint8))
    batch = Batch(images(4) * 2 - 1, torch.zeros(4, dtype=torch.long))
    out = model.losses(batch, "gen")
    want = out["adv"] + 10 * out["cycle"] + 0.5 * 10 * out["identity"]
    assert torch.allclose(out["loss"], want, rtol=1e-5)
    d = model.losses(batch, "disc")
    assert d["loss"].requires_grad and int(model.pool_a.filled) == 4


def test_srgan_input_is_the_low_resolution_image_and_the_baseline_bicubic():
    model = build("srgan")
    x = images(2)
    src = model.source(x)
    assert src.shape == (2, 1, 7, 7)
    assert torch.equal(model.baseline(src), bicubic(src, 4))
    assert model.translate(src).shape == (2, 1, 28, 28)


def test_translators_reject_domains_that_do_not_fit_the_images():
    cls = model_class("pix2pix")
    with pytest.raises(ConfigError, match="block"):
        cls(cls.Config.model_validate({"kind": "pix2pix", "steps": 1, "batch_size": 1,
                                       "domain": {"block": 8}}), (1, 8, 8), 10)


# ----------------------------------------------------------------------------- data
def test_resize_images_to_the_data_shape():
    x = (np.random.default_rng(0).random((5, 1, 8, 8)) * 255).astype(np.uint8)
    out = D.resize_images(x, (3, 28, 28))
    assert out.shape == (5, 3, 28, 28) and out.dtype == np.uint8
    assert (out[:, 0] == out[:, 2]).all()  # grey repeated into RGB
    flat = np.full((2, 1, 28, 28), 200, np.uint8)
    assert (D.resize_images(flat, (1, 8, 8)) == 200).all()
    boxed = D.resize_images(np.full((2, 1, 8, 8), 255, np.uint8), (1, 28, 28), margin=4)
    assert (boxed[:, :, 4:24, 4:24] == 255).all() and boxed.sum() == 2 * 400 * 255


def test_preprocess_writes_the_unpaired_domain_in_the_data_shape(tmp_path):
    cfg = DataConfig(name="digits", val_fraction=0.1, test_fraction=0.1,
                     translation={"block": 4, "unpaired": "mnist5k"})
    D.download(cfg, tmp_path / "raw")
    meta = D.preprocess(cfg, tmp_path / "raw", tmp_path / "p", seed=0)
    assert meta["unpaired"]["dataset"] == "mnist5k" and meta["translation"]["block"] == 4
    b = D.load_unpaired(tmp_path / "p", "train")
    assert b.x.shape[1:] == (1, 8, 8) and len(b) == meta["unpaired"]["sizes"]["train"]
    assert sum(meta["unpaired"]["sizes"].values()) == 5000
    assert b.y.bincount().min() >= 399  # stratified: 500 per class in mnist5k


def test_translation_options_are_checked():
    with pytest.raises(ValueError, match="another dataset"):
        DataConfig(name="digits", val_fraction=0.1, test_fraction=0.1,
                   translation={"unpaired": "digits"})


def test_no_unpaired_domain_is_a_clear_error(tmp_path):
    cfg = DataConfig(name="digits", val_fraction=0.1, test_fraction=0.1,
                     translation={"block": 4})
    D.download(cfg, tmp_path / "raw")
    D.preprocess(cfg, tmp_path / "raw", tmp_path / "p", seed=0)
    with pytest.raises(DataError, match="no unpaired domain"):
        D.load_unpaired(tmp_path / "p", "train")
    cfg = DataConfig(name="digits", val_fraction=0.1, test_fraction=0.1,
                     translation={"sr_factor": 3, "block": 4})
    with pytest.raises(DataError, match="sr_factor = 3"):
        D.preprocess(cfg, tmp_path / "raw", tmp_path / "q", seed=0)
