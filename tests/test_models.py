"""The model contract, checked for every registered model (one parametrised test, no copies)."""

from __future__ import annotations

import pytest
import torch
from conftest import VARIANTS, build, cheap_section, tiny_split, variant_section

from genbench.core import engine, transforms
from genbench.models.base import Batch, GenerativeModel
from genbench.models.checkpoint import load_model, save_model
from genbench.models.registry import registered

KINDS = list(registered())
SHAPES = [(1, 8, 8), (1, 28, 28)]


def draw(model: GenerativeModel, n: int, seed: int) -> torch.Tensor:
    """Samples, or for a translation model its translations of fixed inputs (both ways)."""
    g = torch.Generator().manual_seed(seed)
    if not model.translates:
        return model.sample(n, g)
    x = tiny_split(n, model.shape, seed=7).x.float() / 255
    src = x if model.unpaired else model.source(x, torch.Generator().manual_seed(0))
    out = model.translate(src, g)
    return torch.cat([out, model.translate(x, g, reverse=True)]) if model.unpaired else out


def test_every_registered_kind_has_a_config():
    kinds = {variant_section(v)["kind"] for v in VARIANTS}
    assert kinds == set(KINDS)


def batch_for(model: GenerativeModel, n: int = 8) -> Batch:
    split = tiny_split(n, model.shape)
    tf = transforms.get(model.input_transform)
    return Batch(tf.batch(tf.prepare(split.x)), split.y)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[1]}x{s[2]}")
@pytest.mark.parametrize("variant", VARIANTS)
def test_contract(variant, shape):
    torch.manual_seed(0)
    section = cheap_section(variant)
    model = build(section["kind"], shape, section)
    batch = batch_for(model, 64)
    groups = model.optimizer_groups()
    if not groups:  # closed form
        stats = model.fit(batch.x, batch.y)
        assert all(torch.isfinite(torch.tensor(v)) for v in stats.values())
    group_ids = {g: {id(p) for p in spec.params} for g, spec in groups.items()}
    for g in groups:
        model.zero_grad(set_to_none=True)
        out = model.losses(batch, g)
        assert out["loss"].ndim == 0 and torch.isfinite(out["loss"]), (g, out)
        out["loss"].backward()
        got = {id(p) for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0}
        assert got & group_ids[g], f"loss of group {g} does not reach its parameters"

    if hasattr(model, "on_train_end"):
        with torch.no_grad():
            model.on_train_end(batch.x, batch.y)

    # sampling: shape, range, determinism under the same generator
    s1, s2 = draw(model, 5, 3), draw(model, 5, 3)
    assert s1.shape[1:] == shape and len(s1) in (5, 10) and s1.min() >= 0 and s1.max() <= 1
    assert torch.equal(s1, s2)
    if model.conditional:
        assert model.sample_labels(12).tolist() == [i % 10 for i in range(12)]

    y = batch.y if model.conditional else None
    if model.likelihood is not None:
        ll = model.log_likelihood(batch.x, y) if y is not None else model.log_likelihood(batch.x)
        assert ll.shape == (len(batch.x),) and torch.isfinite(ll).all()
    if hasattr(model, "encode"):
        h = model.encode(batch.x, y) if y is not None else model.encode(batch.x)
        assert h.shape[0] == len(batch.x)
        assert (model.decode(h, y) if y is not None else model.decode(h)).shape == batch.x.shape
    for k, v in model.test_metrics(batch.x, batch.y).items():
        assert v.shape == (len(batch.x),) and torch.isfinite(v).all(), k


@pytest.mark.parametrize("variant", VARIANTS)
def test_engine_trains_and_model_file_round_trips(variant, tmp_path, engine_cfg):
    section = cheap_section(variant)
    kind = section["kind"]
    model = build(kind, (1, 8, 8), section)
    split = tiny_split(64)
    res = engine.fit(model, split, transform=transforms.get(model.input_transform), steps=4,
                     batch_size=16, seed=0, engine=engine_cfg, name=kind,
                     ckpt_path=tmp_path / "ck.pt", meta={"fingerprint": "x"})
    assert res.history and all(torch.isfinite(torch.tensor(v)) for v in res.history[-1].values())
    save_model(tmp_path / "m.pt", model, name=variant, step=res.steps)
    loaded, rec = load_model(tmp_path / "m.pt")
    assert rec["name"] == variant and rec["kind"] == kind and rec["step"] == res.steps
    if model.unpaired:
        loaded.attach_unpaired(model.other)
    assert torch.equal(draw(model, 6, 1), draw(loaded, 6, 1))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_trains_in_bf16_with_fp32_weights(variant, engine_cfg):
    """train.precision = bf16 (autocast) works for every model: finite losses, weights and
    buffers stay fp32 (only the step's matmuls/convolutions run in bf16)."""
    section = cheap_section(variant)
    model = build(section["kind"], (1, 8, 8), section)
    if not model.optimizer_groups():
        pytest.skip("closed form: no training steps")
    res = engine.fit(model, tiny_split(64), transform=transforms.get(model.input_transform),
                     steps=3, batch_size=16, seed=0, name=variant,
                     engine=engine_cfg.model_copy(update={"precision": "bf16", "log_every": 1}))
    assert res.precision == "bf16"
    assert all(torch.isfinite(torch.tensor(v)) for row in res.history for v in row.values())
    floats = [t for t in [*model.parameters(), *model.buffers()] if t.is_floating_point()]
    assert all(t.dtype == torch.float32 for t in floats)
