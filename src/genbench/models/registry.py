"""The model registry: ``@register("vae")`` on a class is all a model needs to be selectable.

A registered class carries its own typed config (``Config``, a pydantic model whose ``kind``
names the class). params.yaml's ``models.<name>`` sections pick a class by ``kind``, so one class
serves many named variants (``beta_vae`` = ``kind: vae`` with ``beta: 4``).
"""

from __future__ import annotations

from typing import Any, Callable

from genbench.core.errors import ConfigError

_MODELS: dict[str, type] = {}


def register(kind: str) -> Callable[[type], type]:
    """Class decorator: make a model class selectable as ``kind: <kind>``."""

    def deco(cls: type) -> type:
        if kind in _MODELS:
            raise ValueError(f"model kind {kind!r} registered twice")
        cls.kind = kind
        _MODELS[kind] = cls
        return cls

    return deco


def registered() -> dict[str, type]:
    """Every registered kind -> its class. Complete whenever this module is importable: it
    lives in the ``genbench.models`` package, whose ``__init__`` imports every model file."""
    return dict(sorted(_MODELS.items()))


def model_class(kind: str) -> type:
    models = registered()
    if kind not in models:
        raise ConfigError(f"unknown model kind {kind!r}; registered: {', '.join(models)}")
    return models[kind]


def role_of(kind: str, judged_for_class: bool) -> str:
    """What a model's scored outputs are: "translation" (its class translates test inputs),
    "conditional" (samples drawn for a class and judged by class accuracy; InfoGAN's codes are
    not classes) or "unconditional". Their numbers do not compare across roles."""
    cls = model_class(kind)
    if cls.translates:
        return "translation"
    return "conditional" if judged_for_class and not cls.labels_are_codes else "unconditional"


def model_config_of(params, name: str):
    """The validated typed config of model ``name`` of ``params`` (a :class:`Params` or a stage
    view with a ``models`` section); one line naming the selected models if it is not one."""
    if name not in params.models:
        raise ConfigError(f"models.{name}: not in params.yaml; selected models: "
                          f"{', '.join(params.models) or '(none)'}")
    return model_config(name, params.models[name])


def model_config(name: str, section: dict[str, Any], prefix: str | None = None):
    """Validate ``models.<name>`` (or the section at ``prefix``) into the typed config of the
    class its ``kind`` names."""
    from genbench.core.config import validate

    where = prefix or f"models.{name}"
    if not isinstance(section, dict):
        raise ConfigError(f"{where} = {section!r}: expected a mapping of model settings")
    kind = section.get("kind")
    if kind is None:
        raise ConfigError(f"{where}.kind: missing; registered kinds: {', '.join(registered())}")
    if kind not in registered():
        raise ConfigError(f"{where}.kind = {kind!r}: unknown model; registered: "
                          f"{', '.join(registered())}")
    return validate(model_class(kind).Config, section, prefix=where)
