"""Stage ``sample@<model>``: seeded samples (or a translation model's translations of the test
split) as uint8 tensors and a PNG grid."""

from __future__ import annotations

import time

import torch

from genbench.core import data as D
from genbench.core.config import SampleView
from genbench.core.errors import ConfigError
from genbench.core.io import torch_save, write_json


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.cpu() * 255).round().to(torch.uint8)


def _one_per_class(y: torch.Tensor, k: int = 10) -> torch.Tensor:
    """The first test image of each class, in class order (``k`` at most): the strips' columns."""
    return torch.stack([(y == c).nonzero()[0, 0] for c in y.unique()[:k]])


def _translate_test(model, processed_dir, g: torch.Generator) -> tuple[dict, torch.Tensor]:
    """A translation model's 'samples': its translations of the whole test split, stored with
    their inputs (and targets, baseline, cycle reconstructions), and the strips of the grid:
    rows of input | output | target (paired) or a | G(a) | F(G(a)) and b | F(b) | G(F(b))."""
    from genbench.core.transforms import to_unit

    test = D.load_split(processed_dir, "test")
    shown = _one_per_class(test.y)
    full = tuple(model.shape[1:])

    def show(x):  # (k, C, h, w) -> full size (nearest) for the strips
        return torch.nn.functional.interpolate(x, size=full, mode="nearest") \
            if tuple(x.shape[2:]) != full else x

    if model.unpaired:
        other = D.load_unpaired(processed_dir, "test")
        a, b = to_unit(test.x), to_unit(other.x)
        fake_b = model.translate(a, g)
        fake_a = model.translate(b, g, reverse=True)
        cyc_a, cyc_b = model.translate(fake_b, g, reverse=True), model.translate(fake_a, g)
        stored = {"x": _to_uint8(fake_b), "input": test.x, "cycle": _to_uint8(cyc_a),
                  "source_y": test.y, "b_x": _to_uint8(fake_a), "b_input": other.x,
                  "b_cycle": _to_uint8(cyc_b), "b_source_y": other.y}
        shown_b = _one_per_class(other.y)
        rows = [a[shown], fake_b[shown], cyc_a[shown], b[shown_b], fake_a[shown_b], cyc_b[shown_b]]
        return stored, torch.cat(rows)
    target = to_unit(test.x)
    src = model.source(target, g)
    out = model.translate(src, g)
    stored = {"x": _to_uint8(out), "input": _to_uint8(src), "target": test.x,
              "baseline": _to_uint8(model.baseline(src)), "source_y": test.y}
    return stored, torch.cat([show(src[shown]), out[shown], target[shown]])


def draw(model, n: int, g: torch.Generator, processed_dir=None) -> tuple[dict, torch.Tensor]:
    """What the evaluation judges of ``model``: ``n`` seeded samples as uint8 (with their labels
    for a conditional model), or a translation model's translations of the test split; and the
    images of its grid (the first 100 samples, or the translation strips)."""
    if model.translates:
        if processed_dir is None:
            raise ConfigError(f"{model.kind} translates the test split: sampling needs --data")
        return _translate_test(model, processed_dir, g)
    labels = model.sample_labels(n)  # None unless conditional
    x = model.sample(n, g, labels).cpu()  # (N, C, H, W) in [0, 1]
    x8 = _to_uint8(x)  # stored like the real data, judged like it
    return ({"x": x8} if labels is None else {"x": x8, "y": labels}), x[:min(100, len(x))]


def sample(params: SampleView, name: str, model_path, out_samples, out_grid, out_info,
           processed_dir=None) -> dict:
    """Stage ``sample@<name>``: ``budget.n_samples`` seeded samples as uint8 + a PNG grid; for a
    translation model, its translations of the test split (from ``processed_dir``) and strips.
    (The evaluate stage logs the grid to the model's MLflow run: no MLflow import here.)"""
    from genbench.core.distributed import resolve_device
    from genbench.core.io import save_grid
    from genbench.models.checkpoint import load_model

    model, rec = load_model(model_path, name)
    model.to(resolve_device(params.train.device))
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(params.seed)  # same seed -> same samples
    n = min(params.budget.n_samples, getattr(model.cfg, "n_samples", None) or 10**12)
    stored, shown = draw(model, n, g, processed_dir)
    seconds = time.perf_counter() - t0
    torch_save(out_samples, stored)
    translates = model.translates
    save_grid(out_grid, shown, nrow=10 if translates else int(len(shown) ** 0.5))
    info = {"n": len(stored["x"]), "sample_seconds": seconds}
    write_json(out_info, info)
    return info
