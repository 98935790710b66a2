"""Self-describing model files: weights + resolved config + model name/kind + step (nanoGPT-style),
so a model file can be rebuilt without params.yaml. Loaded with ``weights_only=True``."""

from __future__ import annotations

from pathlib import Path

from genbench.core.io import torch_load, torch_save

MODEL_FORMAT = 1


def save_model(path: Path | str, model, *, name: str, step: int, extra: dict | None = None) -> None:
    torch_save(path, {
        "format": MODEL_FORMAT, "name": name, "kind": model.kind,
        "config": model.cfg.model_dump(), "shape": list(model.shape),
        "num_classes": model.num_classes, "step": step,
        "state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {})})


def load_model(path: Path | str):
    """Rebuild a model from its file. Returns ``(model, record)``; the model is on the CPU, in eval mode."""
    from genbench.core.errors import DataError
    from genbench.core.registry import model_class

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: model file missing; run its train stage first")
    rec = torch_load(path)
    cls = model_class(rec["kind"])
    model = cls(cls.Config.model_validate(rec["config"]), tuple(rec["shape"]), rec["num_classes"])
    model.load_state_dict(rec["state"])
    model.eval()
    return model, rec
