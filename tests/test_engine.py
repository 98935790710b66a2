"""The engine: resume after an interruption, NaN detection, stateless batching, atomic writes."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import build, tiny_split

from genbench.core import engine, transforms
from genbench.core.errors import TrainingError
from genbench.core.io import torch_load, write_json


def run(model, tmp_path, engine_cfg, steps=12, on_log=None, ckpt="ck.pt"):
    return engine.fit(model, tiny_split(64), transform=transforms.get(model.input_transform),
                      steps=steps, batch_size=16, seed=0, engine=engine_cfg, name=model.kind,
                      ckpt_path=tmp_path / ckpt, meta={"fingerprint": "fp"}, on_log=on_log)


class Killed(Exception):
    pass


@pytest.mark.parametrize("kind", ["vae", "gan", "progan", "began"])
def test_resume_after_kill_gives_the_same_model(kind, tmp_path, engine_cfg):
    torch.manual_seed(123)
    straight = build(kind, (1, 8, 8))
    init = {k: v.clone() for k, v in straight.state_dict().items()}
    run(straight, tmp_path, engine_cfg, ckpt="a.pt")

    def kill_at_8(step, row):
        if step == 8:
            raise Killed  # after the step-5 checkpoint, before the step-10 one

    interrupted = build(kind, (1, 8, 8))
    interrupted.load_state_dict(init)
    with pytest.raises(Killed):
        run(interrupted, tmp_path, engine_cfg, on_log=kill_at_8, ckpt="b.pt")
    assert torch_load(tmp_path / "b.pt")["step"] == 6 - 1  # checkpoint_every=5

    resumed = build(kind, (1, 8, 8))  # a fresh process: new model, weights from the checkpoint
    res = run(resumed, tmp_path, engine_cfg, ckpt="b.pt")
    assert res.resumed_from == 5
    for k, v in straight.state_dict().items():
        assert torch.allclose(v.float(), resumed.state_dict()[k].float(), atol=1e-6), k
    assert [r["step"] for r in res.history] == [2, 4, 6, 8, 10, 12]


def test_checkpoint_of_another_config_is_ignored(tmp_path, engine_cfg):
    model = build("vae", (1, 8, 8))
    run(model, tmp_path, engine_cfg, steps=5)
    other = build("vae", (1, 8, 8))
    res = engine.fit(other, tiny_split(64), transform=transforms.get("binary_dynamic"), steps=5,
                     batch_size=16, seed=0, engine=engine_cfg, name="vae",
                     ckpt_path=tmp_path / "ck.pt", meta={"fingerprint": "other"})
    assert res.resumed_from is None


def test_nan_loss_stops_within_one_step_and_keeps_last_good_checkpoint(tmp_path, engine_cfg,
                                                                        monkeypatch):
    model = build("vae", (1, 8, 8))
    calls = {"n": 0}
    losses = model.losses

    def poisoned(batch, group):
        calls["n"] += 1
        out = losses(batch, group)
        if calls["n"] >= 8:  # step index 7 (0-based)
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(model, "losses", poisoned)
    with pytest.raises(TrainingError) as err:
        run(model, tmp_path, engine_cfg, steps=20)
    msg = str(err.value)
    assert "vae" in msg and "at step 7" in msg and "step 5" in msg, msg
    assert calls["n"] <= 9  # detected within one step of the bad loss
    ck = torch_load(tmp_path / "ck.pt")
    assert ck["step"] == 5
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())


def test_batch_indexer_is_a_seeded_permutation_per_epoch():
    ix = engine.BatchIndexer(10, 3, seed=1, device=torch.device("cpu"))
    epoch0 = torch.cat([ix(b) for b in range(3)])
    assert len(set(epoch0.tolist())) == 9  # 3 batches of 3, no repeats within an epoch
    again = engine.BatchIndexer(10, 3, seed=1, device=torch.device("cpu"))
    assert torch.equal(again(4), ix(4)) and torch.equal(again(1), ix(1))  # stateless in b


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "m.json"
    write_json(target, {"ok": 1})
    with pytest.raises(TypeError):
        write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temp file left behind


def test_throughput_of_a_resumed_run_counts_only_its_own_steps():
    from genbench.pipeline.train import images_per_second

    assert images_per_second(engine.FitResult(10, 2.0, [], resumed_from=8), 4) == 4.0  # 2 steps
    assert images_per_second(engine.FitResult(10, 2.0, [], resumed_from=None), 4) == 20.0
    assert images_per_second(engine.FitResult(10, 0.1, [], resumed_from=10), 4) is None


def test_equal_tensors_give_equal_file_bytes(tmp_path):
    """DVC hashes the files: the atomic writer's random temp name must not end up inside them."""
    from genbench.core.io import torch_save

    obj = {"x": torch.arange(12, dtype=torch.uint8).view(3, 4), "step": 7}
    a, b = torch_save(tmp_path / "a.pt", obj), torch_save(tmp_path / "sub" / "b.pt", obj)
    assert a.read_bytes() == b.read_bytes()
    assert torch.equal(torch_load(a)["x"], obj["x"])


def test_training_stage_is_reproducible(digits_workdir, tmp_path):
    """Same params -> the same weights, whatever ran before in the process (seeded init)."""
    from genbench.core.config import TrainView
    from genbench.core.io import torch_load as load
    from genbench.params import load_view
    from genbench.pipeline.train import train

    view = load_view(digits_workdir / "params.yaml", TrainView, "vae")
    params, states = view, []
    for i in range(2):
        torch.rand(i + 1)  # disturb the global RNG between the runs
        train(params, "vae", digits_workdir / "data/processed", tmp_path / f"m{i}.pt",
              tmp_path / f"l{i}.csv", tmp_path / f"i{i}.json", tmp_path / f"ck{i}.pt")
        states.append(load(tmp_path / f"m{i}.pt")["state"])
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_precision_auto_follows_each_class_declaration(monkeypatch):
    from conftest import variant_section

    from genbench.core import precision as P

    vae = build("vae", (1, 8, 8), variant_section("vae"))
    gan = build("gan", (1, 8, 8), variant_section("dcgan"))
    assert P.key(vae) == "vae/mlp" and P.key(gan) == "gan/conv"
    assert P.key(build("rbm", (1, 8, 8))) == "rbm"  # one architecture: the kind
    monkeypatch.setattr(type(vae), "cpu_precision", {"mlp": "bf16"})
    monkeypatch.setattr(type(gan), "cpu_precision", {"mlp": "bf16"})
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert P.resolve("auto", vae, cpu) == "bf16"
    assert P.resolve("auto", gan, cpu) == "fp32"  # its architecture not declared: fp32
    monkeypatch.setattr(type(gan), "cpu_precision", "bf16")  # one precision for every arch
    assert P.resolve("auto", gan, cpu) == "bf16"
    assert P.resolve("fp32", vae, cpu) == "fp32" and P.resolve("fp32", gan, cpu) == "fp32"
    assert P.resolve("auto", vae, cuda) == "bf16"  # tensor cores


def test_precision_declarations_name_real_architectures():
    """A per-architecture ``cpu_precision`` names only values the class's ``arch`` can take (a
    typo would silently train that architecture in fp32)."""
    import typing

    from genbench.models.registry import registered

    for kind, cls in registered().items():
        declared = cls.cpu_precision
        values = set(declared.values()) if isinstance(declared, dict) else {declared}
        assert values <= {"fp32", "bf16"}, f"{kind}: cpu_precision {declared!r}"
        if isinstance(declared, dict):
            field = cls.Config.model_fields.get("arch")
            assert field is not None, f"{kind}: cpu_precision per arch, but no arch field"
            archs = set(typing.get_args(field.annotation))
            assert set(declared) <= archs, f"{kind}: cpu_precision names {set(declared) - archs}"


def test_bf16_steps_differ_from_fp32_and_repeat_exactly(tmp_path, engine_cfg):
    """bf16 autocast really changes the step's arithmetic, and is as deterministic as fp32."""
    def weights(precision):
        torch.manual_seed(0)
        model = build("vae", (1, 8, 8))
        engine.fit(model, tiny_split(64), transform=transforms.get(model.input_transform),
                   steps=4, batch_size=16, seed=0, name="vae",
                   engine=engine_cfg.model_copy(update={"precision": precision}))
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    a, b, c = weights("bf16"), weights("bf16"), weights("fp32")
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.allclose(a, c, atol=0.05)  # the same training, to bf16's resolution
