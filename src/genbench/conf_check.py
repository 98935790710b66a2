"""What `dvc exp run -S …` would otherwise report as DVC's "unexpected error" with Hydra's
details and a support banner, checked before DVC composes params.yaml (from
hydra_plugins/genbench_checks.py, as src/genbench/busy.py): every conf/ file is valid YAML (the
one-line error names the file and line; Hydra's did not name the file), and every group choice
of an override (``budget=huge``, ``model=[vea]``) is a file of that group."""

from __future__ import annotations

import difflib
from pathlib import Path

from genbench.core.errors import ConfigError


def check_yaml(conf_dir: Path) -> None:
    """One-line :class:`ConfigError` naming the first conf/ file that is not valid YAML."""
    import yaml

    for path in sorted(Path(conf_dir).rglob("*.yaml")):
        try:
            yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            what = getattr(err, "problem", None) or str(err).splitlines()[0]
            shown = path.relative_to(Path(conf_dir).parent)  # conf/model/vae.yaml
            raise ConfigError(f"{shown}: not valid YAML ({where}{what})") from None


def set_params(argv: list[str]) -> list[str]:
    """The overrides of DVC's ``-S``/``--set-param`` options in ``argv`` that go to params.yaml
    (Hydra's; ``other.yaml:key=value`` ones are DVC's own)."""
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a in ("-S", "--set-param") and i + 1 < len(argv):
            out.append(argv[i + 1])
            i += 1
        elif a.startswith("--set-param="):
            out.append(a.split("=", 1)[1])
        elif a.startswith("-S") and len(a) > 2 and not a.startswith("--"):
            out.append(a[2:])
        i += 1
    return [o for o in out if ":" not in o.split("=", 1)[0] or o.startswith("params.yaml:")]


def _choices(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return [v.strip() for v in value[1:-1].split(",") if v.strip()]
    return [value]


def check_group_choices(conf_dir: Path, overrides: list[str]) -> None:
    """A group override names files of the group: ``-S budget=huge`` is one line naming the
    group's options (and the closest one) instead of Hydra's "Could not find 'budget/huge'"."""
    conf_dir = Path(conf_dir)
    for ov in overrides:
        body = ov.removeprefix("params.yaml:")
        if "=" not in body:
            continue
        key, value = body.split("=", 1)
        _check_model_key(conf_dir, ov, key)
        group = key.lstrip("+~").split("@", 1)[0]
        folder = conf_dir / group
        if "." in group or not folder.is_dir() or key.startswith("~"):
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        chosen = _choices(value)
        twice = sorted({c for c in chosen if chosen.count(c) > 1})
        if twice:
            raise ConfigError(f"-S {ov}: {', '.join(twice)} listed twice")
        for choice in chosen:
            if choice not in options and choice != "null":
                near = difflib.get_close_matches(choice, options, n=1)
                hint = f"; did you mean {near[0]}?" if near else ""
                listed = ", ".join(options) if len(options) <= 12 else \
                    f"{len(options)} files in {conf_dir.name}/{group}/"
                raise ConfigError(f"-S {ov}: {conf_dir.name}/{group}/{choice}.yaml does not exist; "
                                  f"{group} is one of: {listed}{hint}")


def _check_model_key(conf_dir: Path, ov: str, key: str) -> None:
    """``models.vea.latent_dim``: a model's settings under a name that is no model file."""
    parts = key.lstrip("+~").split(".")
    if len(parts) < 2 or parts[0] != "models":
        return
    options = sorted(p.stem for p in (conf_dir / "model").glob("*.yaml"))
    if options and parts[1] not in options:
        near = difflib.get_close_matches(parts[1], options, n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise ConfigError(f"-S {ov}: {parts[1]} is not a model ({conf_dir.name}/model/"
                          f"{parts[1]}.yaml does not exist){hint}")


def check(conf_dir: Path, argv: list[str]) -> None:
    """Both checks, for a composition with the `-S` overrides in ``argv``."""
    check_yaml(conf_dir)
    check_group_choices(conf_dir, set_params(argv))
