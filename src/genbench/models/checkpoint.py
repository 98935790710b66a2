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


def load_model(path: Path | str, name: str | None = None):
    """Rebuild a model from its file. Returns ``(model, record)``; the model is on the CPU, in
    eval mode. ``name``: the model the caller expects; a file of another model is refused (the
    file records its model's name and kind)."""
    from genbench.core.errors import DataError
    from genbench.models.registry import model_class

    path = Path(path)
    fix = f"retrain it: dvc repro -f train@{name or '<model>'}"
    if not path.exists():
        raise DataError(f"{path}: model file missing; run its train stage first")
    rec = torch_load(path, fix=fix)
    if not isinstance(rec, dict) or rec.get("format") != MODEL_FORMAT:
        what = rec.get("format") if isinstance(rec, dict) else type(rec).__name__
        raise DataError(f"{path}: not a genbench model file (format {what!r}); {fix}")
    if name is not None and rec.get("name") != name:
        raise DataError(f"{path}: the model file of {rec.get('name')!r} (kind {rec.get('kind')}), "
                        f"not of {name!r}; {fix}")
    try:
        cls = model_class(rec["kind"])
        model = cls(cls.Config.model_validate(rec["config"]), tuple(rec["shape"]),
                    rec["num_classes"])
        model.load_state_dict(rec["state"])
    except (KeyError, ValueError, RuntimeError) as err:
        raise DataError(f"{path}: its weights do not fit its {rec.get('kind')} config "
                        f"({type(err).__name__}); {fix}") from None
    model.eval()
    return model, rec
