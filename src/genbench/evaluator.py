"""The shared evaluator: a domain classifier trained on the train split (stage ``evaluator``),
whose penultimate features and softmax judge every model's samples, and the sample metrics.

Backbones: ``classifier`` (default, trained here) or ``inception`` (torch-fidelity's InceptionV3
read from a local weights file; class coverage still uses the domain classifier).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genbench import metrics as M
from genbench.core.config import EvaluatorConfig
from genbench.core.errors import ConfigError
from genbench.core.transforms import to_unit
from genbench.models.base import Batch, OptimGroup
from genbench.nn import ConvClassifier


def random_shift(x: torch.Tensor, max_shift: float) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (one batched affine warp). (B, C, H, W)"""
    b, _, h, w = x.shape
    theta = torch.zeros(b, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    shift = (torch.rand(b, 2, device=x.device) * 2 - 1) * max_shift
    theta[:, 0, 2] = shift[:, 0] * 2 / w  # affine_grid works in [-1, 1] coordinates
    theta[:, 1, 2] = shift[:, 1] * 2 / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


class ClassifierTrainer(nn.Module):
    """The classifier in the engine's contract: one optimizer group, cross-entropy loss."""

    kind = "evaluator"

    def __init__(self, net: ConvClassifier, lr: float, max_shift: float):
        super().__init__()
        self.net, self.lr, self.max_shift = net, lr, max_shift

    def optimizer_groups(self):
        return {"clf": OptimGroup(list(self.net.parameters()), lr=self.lr)}

    def losses(self, batch: Batch, group: str):
        x = random_shift(batch.x, self.max_shift) if self.max_shift else batch.x
        logits = self.net(x)
        acc = (logits.argmax(1) == batch.y).float().mean()
        return {"loss": F.cross_entropy(logits, batch.y), "acc": acc.detach()}

    def on_step_end(self, group):
        pass


#: images per inference pass: small batches stay in cache; with the network in channels_last
#: (oneDNN's native layout) 1,000 images take 0.38 s on one core against 0.93 s in NCHW
#: batches of 500 (`make bench`'s machine, AMD EPYC).
INFER_BATCH = 100


def for_inference(net: nn.Module) -> nn.Module:
    """Eval mode and channels_last weights (in place): the layout oneDNN runs fastest."""
    return net.eval().to(memory_format=torch.channels_last)


@torch.no_grad()
def _batched(fn, x: torch.Tensor, batch_size: int = INFER_BATCH):
    """``fn`` over ``x`` in batches; outputs (a tensor or a tuple of them) concatenated."""
    outs = [fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if isinstance(outs[0], tuple):
        return tuple(torch.cat(o) for o in zip(*outs))
    return torch.cat(outs)


@torch.no_grad()
def predict(net: ConvClassifier, x_uint8: torch.Tensor) -> torch.Tensor:
    """The classifier's classes of uint8 images. (N, C, H, W) -> (N,)"""
    for_inference(net)
    return _batched(lambda b: net(to_unit(b)), x_uint8).argmax(1)


def accuracy(net: ConvClassifier, x_uint8: torch.Tensor, y: torch.Tensor) -> float:
    return float((predict(net, x_uint8) == y).float().mean())


class Inception(nn.Module):
    """torch-fidelity's InceptionV3 (the FID reference network) from a local weights file."""

    def __init__(self, weights: str | None):
        super().__init__()
        if not weights or not Path(weights).is_file():
            raise ConfigError(
                f"evaluator.inception_weights = {weights!r}: file not found; the inception "
                f"backbone needs torch-fidelity's pt_inception-2015-12-05-6726825d.pth on disk "
                f"(it is never downloaded); or use evaluator.backbone=classifier")
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        self.net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=weights)

    def forward(self, x_uint8: torch.Tensor):  # (B, C, H, W) uint8 -> ((B, 2048), (B, 1008))
        if x_uint8.shape[1] == 1:
            x_uint8 = x_uint8.expand(-1, 3, -1, -1)
        return self.net(x_uint8)


class FeatureExtractor:
    """Features (for FID/KID/PR), logits (for IS) and domain-class predictions of uint8 images."""

    def __init__(self, classifier: ConvClassifier, cfg: EvaluatorConfig):
        self.clf = for_inference(classifier)
        self.inception = Inception(cfg.inception_weights).eval() if cfg.backbone == "inception" \
            else None

    @torch.no_grad()
    def __call__(self, x_uint8: torch.Tensor) -> dict[str, torch.Tensor]:
        # one pass gives the features and the domain classifier's logits
        feats, clf_logits = _batched(lambda b: self.clf.features_and_logits(to_unit(b)), x_uint8)
        logits = clf_logits
        if self.inception is not None:
            feats, logits = _batched(self.inception, x_uint8)
        return {"features": feats.double(), "logits": logits.double(),
                "pred": clf_logits.argmax(1), "conf": clf_logits.softmax(1).max(1).values}


def reference_features(extract: FeatureExtractor, reference: torch.Tensor) -> dict:
    """What the metrics need of the reference images, stored compactly (float32: the network's
    own precision; :func:`load_reference` gives them back in float64 as computed)."""
    out = extract(reference)
    return {"features": out["features"].float(), "logits": out["logits"].float()}


def sample_metrics(extract: FeatureExtractor, ref: dict[str, torch.Tensor],
                   candidates: torch.Tensor, cfg: EvaluatorConfig, num_classes: int,
                   seed: int = 0) -> dict:
    """All sample metrics of ``candidates`` (N, C, H, W) uint8 against the reference images'
    features ``ref`` (:func:`reference_features`).

    FID/KID use the whole reference set; precision/recall use a seeded reference subset of the
    candidates' size (the metric is biased by unequal set sizes).
    """
    return metrics_of_features(extract(candidates), ref, cfg, num_classes, seed)


def reference_subset(n_reference: int, n: int, seed: int) -> torch.Tensor:
    """The indices of the ``n`` reference (train) images precision/recall compare ``n``
    candidates with: a seeded draw, the same for every model and metric of one run."""
    return torch.randperm(n_reference, generator=torch.Generator().manual_seed(seed))[:n]


def heldout_pick(n_heldout: int, n: int, seed: int) -> torch.Tensor:
    """The indices of the held-out (val + test) images scored as the real-data floor."""
    return torch.randperm(n_heldout, generator=torch.Generator().manual_seed(seed))[:n]


def metrics_of_features(out: dict[str, torch.Tensor], ref: dict[str, torch.Tensor],
                        cfg: EvaluatorConfig, num_classes: int, seed: int = 0) -> dict:
    """:func:`sample_metrics` of candidates already passed through the extractor (``out``)."""
    n = len(out["features"])
    sub = reference_subset(len(ref["features"]), n, seed)
    kid_mean, kid_std = M.kid(ref["features"], out["features"], cfg.kid_subsets,
                              cfg.kid_subset_size, seed)
    is_mean, is_std = M.inception_score(out["logits"], seed=seed)
    precision, recall = M.precision_recall(ref["features"][sub], out["features"], cfg.pr_k)
    return {"n": n, "fid": M.fid(ref["features"], out["features"]), "kid": kid_mean,
            "kid_std": kid_std, "is": is_mean, "is_std": is_std, "precision": precision,
            "recall": recall, "mean_confidence": float(out["conf"].mean()),
            **M.class_coverage(out["pred"], num_classes)}


def evaluator_steps(epochs: int, n_train: int, batch_size: int) -> int:
    return epochs * max(1, n_train // batch_size)


def max_shift_for(shape) -> float:
    """±2 px translations on MNIST-size images; none on 8x8 digits where 2 px is a quarter."""
    return 2.0 if min(shape[1:]) >= 16 else 0.0



# ----------------------------------------------------------------------------- translation
def _pixel_errors(out_u8: torch.Tensor, target_u8: torch.Tensor) -> dict:
    o, t = to_unit(out_u8), to_unit(target_u8)
    return {"l1": float(M.l1_error(o, t).mean()), "psnr": float(M.psnr(o, t).mean()),
            "ssim": float(M.ssim(o, t).mean())}


def paired_translation_metrics(extract: FeatureExtractor, ref: dict[str, torch.Tensor],
                               stored: dict, cfg: EvaluatorConfig, num_classes: int,
                               seed: int = 0) -> dict:
    """A paired translation model on the test split, and the baseline of its task (the input,
    or its bicubic upsampling) the same way: L1/PSNR/SSIM against the ground truth, the sample
    metrics of the outputs against the real (train) images, and the class accuracy of the
    outputs (the evaluator should see the input's digit)."""
    out = {}
    for key, name in (("x", "model"), ("baseline", "baseline")):
        feats = extract(stored[key])
        row = _pixel_errors(stored[key], stored["target"])
        row.update(metrics_of_features(feats, ref, cfg, num_classes, seed))
        row["class_accuracy"] = float((feats["pred"] == stored["source_y"]).float().mean())
        out[name] = row
    return out


def unpaired_translation_metrics(extract_a: FeatureExtractor, extract_b: FeatureExtractor,
                                 ref_a: dict, ref_b: dict, stored: dict,
                                 cfg: EvaluatorConfig, num_classes: int, seed: int = 0) -> dict:
    """G: A -> B and F: B -> A on both test splits: class preservation (the target domain's
    classifier labels G(a) with a's class), the cycle error ‖F(G(a)) − a‖₁ per pixel both ways,
    and the sample metrics in the target domain (its classifier's features, its train images).

    Baselines: ``identity`` (G = F = I: the inputs judged as if translated) and the cycle error
    a reconstruction unrelated to its input would have (``shuffled``: a test image against
    another one of the same domain)."""
    g = torch.Generator().manual_seed(seed)

    def direction(ext, ref, fake, src, y, cycle):
        f_fake, f_src = ext(fake), ext(src)
        m = metrics_of_features(f_fake, ref, cfg, num_classes, seed)
        ident = metrics_of_features(f_src, ref, cfg, num_classes, seed)
        perm = torch.randperm(len(src), generator=g)
        return ({"class_preservation": float((f_fake["pred"] == y).float().mean()),
                 "cycle_l1": float(M.l1_error(to_unit(cycle), to_unit(src)).mean()),
                 "fid": m["fid"], "kid": m["kid"], "n": len(fake)},
                {"class_preservation": float((f_src["pred"] == y).float().mean()),
                 "cycle_l1": float(M.l1_error(to_unit(src[perm]), to_unit(src)).mean()),
                 "fid": ident["fid"], "kid": ident["kid"], "n": len(src)})

    ab, ab_base = direction(extract_b, ref_b, stored["x"], stored["input"],
                            stored["source_y"], stored["cycle"])
    ba, ba_base = direction(extract_a, ref_a, stored["b_x"], stored["b_input"],
                            stored["b_source_y"], stored["b_cycle"])
    return {"model": {"a_to_b": ab, "b_to_a": ba},
            "baseline": {"a_to_b": ab_base, "b_to_a": ba_base}}
