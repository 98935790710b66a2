"""What `dvc exp run -S …` would otherwise report as DVC's "unexpected error" with Hydra's
details and a support banner, checked before DVC composes params.yaml (from
hydra_plugins/genbench_checks.py, as src/genbench/busy.py): every conf/ file is valid YAML (the
one-line error names the file and line; Hydra's did not name the file), and every group choice
of an override (``budget=huge``, ``model=[vea]``) is a file of that group."""

from __future__ import annotations

import difflib
from pathlib import Path

from genbench.core.errors import ConfigError


def model_names(conf_dir: Path | str) -> list[str]:
    """The models conf/ defines: one conf/model/<name>.yaml each."""
    return sorted(p.stem for p in Path(conf_dir, "model").glob("*.yaml"))


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


def model_keys(conf_dir: Path, name: str) -> set[str]:
    """The keys conf/model/<name>.yaml sets: its own and those of the files its defaults list
    merges into it (``/tuned/<name>@_here_``); `/seeded@_global_…` entries go elsewhere."""
    import yaml

    raw = yaml.safe_load((conf_dir / "model" / f"{name}.yaml").read_text()) or {}
    keys = set(raw) - {"defaults"}
    for entry in raw.get("defaults") or []:
        if isinstance(entry, str) and entry.endswith("@_here_"):
            included = conf_dir / (entry.removesuffix("@_here_").lstrip("/") + ".yaml")
            if included.is_file():
                keys |= set(yaml.safe_load(included.read_text()) or {})
    return keys


def _check_model_key(conf_dir: Path, ov: str, key: str) -> None:
    """``models.vea.latent_dim``: a model's settings under a name that is no model file;
    ``models.vae.beta1``: a key its file does not set (Hydra: "Could not override … not in
    struct", inside DVC an "unexpected error")."""
    plus = key.startswith("+")
    parts = key.lstrip("+~").split(".")
    if len(parts) < 2 or parts[0] != "models":
        return
    options = model_names(conf_dir)
    if options and parts[1] not in options:
        near = difflib.get_close_matches(parts[1], options, n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise ConfigError(f"-S {ov}: {parts[1]} is not a model ({conf_dir.name}/model/"
                          f"{parts[1]}.yaml does not exist){hint}")
    if len(parts) >= 3 and not plus and options:
        keys = sorted(model_keys(conf_dir, parts[1]))
        if parts[2] not in keys:
            near = difflib.get_close_matches(parts[2], keys, n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            raise ConfigError(f"-S {ov}: {conf_dir.name}/model/{parts[1]}.yaml sets no "
                              f"{parts[2]} ({hint}it sets {', '.join(keys)}); a setting of "
                              f"the model left at its default is added with "
                              f"+models.{parts[1]}.{'.'.join(parts[2:])}=…")


def check(conf_dir: Path, argv: list[str]) -> None:
    """Both checks, for a composition with the `-S` overrides in ``argv``."""
    check_yaml(conf_dir)
    check_group_choices(conf_dir, set_params(argv))
