"""The boundary where settings enter a process: params.yaml or a stage's view, validated once.

It sits above :mod:`genbench.core` (the schema of every section: :mod:`genbench.core.config`)
and :mod:`genbench.models` (each model's typed config, found by its ``kind`` in the registry),
because a whole params file is both; the core never imports the models.
"""

from __future__ import annotations

from pathlib import Path

from genbench.core.config import Params, TrainView, read_params, validate
from genbench.core.errors import ConfigError


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and validate the whole params file: every section, every model section by its
    class's typed config, and the toy mixtures' model sections (fail fast, before any work)."""
    from genbench.models.registry import model_config, model_config_of  # torch: only here

    params = read_params(path)
    for name in params.models:
        model_config_of(params, name)
    for name, section in params.toys.mixtures.models.items():
        model_config(name, section, prefix=f"toys.mixtures.models.{name}")
    return params


def load_view(path: Path | str, cls: type, model: str | None = None):
    """A stage's settings: its view file (params/....json), or the view of a whole params file
    (params.yaml: for running a stage by hand)."""
    path = Path(path)
    if cls is Params:  # the params stage itself: the whole file
        return load_params(path)
    if path.suffix in (".yaml", ".yml"):
        params = load_params(path)
        if model is not None and "models" in cls.model_fields:
            from genbench.models.registry import model_config_of

            model_config_of(params, model)  # one line naming the model if it is not selected
        return cls.of(params, model)
    if not path.exists():
        raise ConfigError(f"{path}: view missing; run the params stage first (dvc repro params)")
    from genbench.core.io import read_json

    view = validate(cls, read_json(path, fix="rewrite the views: dvc repro params"))
    if model is not None and isinstance(view, TrainView):
        if list(view.models) != [model]:
            raise ConfigError(f"{path}: the view of {', '.join(view.models)}, not of {model}")
        from genbench.models.registry import model_config_of

        model_config_of(view, model)
    return view
