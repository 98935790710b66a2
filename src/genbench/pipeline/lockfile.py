"""dvc.lock's entries that can no longer spare a stage a rerun, dropped by the params stage.

dvc.yaml's stages follow the selection in params.yaml (``foreach: ${models}``, the seed
matrices), so an experiment on a selection, e.g. the quickstart's ``model=[vae]``, has 17 of
the default run's 240 stages. DVC keeps the lock entries of the other 223 (on purpose:
treeverse/dvc#5293, to ease switching branches) and, after every stage it runs, parses and
rewrites the whole dvc.lock with a round-trip YAML parser: at 240 entries (350 KB) that took
2.9 s per stage, at 17 entries 0.9 s (`dvc repro -f --single-item toys`, 2-core AMD EPYC,
2026-12-04).

An entry of a stage that is gone still matters while its files are there: switch back to a
selection with that stage and DVC skips it if its dependencies and outputs still match the
entry. It can no longer matter once one of those files is missing (DVC reruns a stage whose
output is missing whatever the entry says, and one whose dependency, another stage's output,
had to be made again), which is the case for every model stage of the default run in a fresh
clone, whose DVC-cached files are not there. The stage's views (params/...json) do not count:
the params stage writes the views of the selected models only and writes the same bytes
again when a model returns. So the params stage drops exactly the entries of stages that are
gone and miss another file; the rest stay as DVC keeps them (after `make repro`, every file is
there: nothing is dropped). Putting an entry back when its stage returns would not help: DVC
reads dvc.lock before the params stage runs. ``git checkout -- dvc.lock`` brings the
committed entries back.

Only whole entries are removed; every kept line stays byte for byte, and the result is checked
to parse to the same entries before it replaces the file (atomically).
"""

from __future__ import annotations

import logging
from pathlib import Path

import yaml

from genbench.core.errors import DataError
from genbench.core.io import write_text

log = logging.getLogger(__name__)


def current_stages(root: Path | str = ".") -> set[str]:
    """The names of the stages ``root``/dvc.yaml defines under the params.yaml now there (DVC's
    own templating: ``train@vae``, ``seed@gan-1``; the keys of ``root``/dvc.lock), read without
    DVC's repository lock, which the running `dvc repro` / `dvc exp run` holds."""
    from dvc.dvcfile import load_file
    from dvc.repo import Repo

    with Repo(str(root)) as repo:  # the stage names only: dvc.lock is not parsed (0.3 s, not 0.6)
        return set(load_file(repo, str(Path(repo.root_dir) / "dvc.yaml")).stages.keys())


def _entries(lines: list[str]) -> list[tuple[str | None, int, int]]:
    """(stage name, first line, end line) of each entry under ``stages:``; name None for the
    lines before it (``schema: '2.0'``)."""
    start = next((i + 1 for i, line in enumerate(lines) if line.rstrip() == "stages:"), None)
    if start is None:
        return [(None, 0, len(lines))]
    heads = [i for i in range(start, len(lines))
             if lines[i].startswith("  ") and not lines[i][2:3].isspace()
             and not lines[i].startswith("  -") and lines[i].rstrip().endswith(":")]
    out = [(None, 0, heads[0] if heads else len(lines))]
    for k, i in enumerate(heads):
        try:
            (name,) = yaml.safe_load(lines[i].strip())  # a one-key mapping: {name: None}
        except (yaml.YAMLError, TypeError, ValueError):
            name = lines[i].strip()  # _split's check refuses the file
        out.append((str(name), i, heads[k + 1] if k + 1 < len(heads) else len(lines)))
    return out


def _load(text: str) -> dict:
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def _split(text: str) -> tuple[str, dict[str, str], dict] | None:
    """(the text before the entries, each entry's text by stage name, the parsed file) of a
    lock-format text; None unless the pieces are exactly the file's entries."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entries = _entries(lines)
    head = "".join("".join(lines[a:b]) for name, a, b in entries if name is None)
    blocks = {name: "".join(lines[a:b]) for name, a, b in entries if name is not None}
    try:
        parsed = _load(text)
        if not isinstance(parsed, dict) or not head.rstrip().endswith("stages:") \
                or set(blocks) != set(parsed.get("stages") or {}) \
                or _load(head + "".join(blocks.values())) != parsed:
            return None
    except yaml.YAMLError:
        return None
    return head, blocks, parsed


def _missing_file(entry: dict, root: Path, views: Path) -> str | None:
    """A dependency or output the entry names that is not in the workspace, views aside."""
    for item in (entry.get("deps") or []) + (entry.get("outs") or []):
        p = root / item["path"]
        if not p.is_relative_to(views) and not p.exists():
            return item["path"]
    return None


def drop_entries(lock: Path | str, keep: set[str], views: Path | str = "params") -> list[str]:
    """Remove from ``lock`` the entries of stages not in ``keep`` that name a file missing in
    the workspace (paths relative to the lock's folder), the views in the folder ``views``
    (absolute, or relative to the lock's folder) aside; returns their names (sorted). A lock
    this cannot split exactly is left as it is (DVC keeps working, only slower)."""
    lock = Path(lock)
    if not lock.exists():
        return []
    split = _split(lock.read_text())
    if split is None:
        log.warning("%s: not pruned (its entries could not be split exactly)", lock)
        return []
    head, entries, parsed = split
    stages = parsed["stages"]
    root = lock.parent.resolve()
    missing = {n: _missing_file(stages[n], root, root / views) for n in entries if n not in keep}
    gone = sorted(n for n, path in missing.items() if path)
    if not gone:
        return []
    kept = head + "".join(b for n, b in entries.items() if n not in gone)
    want = {**parsed, "stages": {n: v for n, v in stages.items() if n not in gone}}
    if _load(kept) != want:
        log.warning("%s: not pruned (the result did not parse back)", lock)
        return []
    try:
        write_text(lock, kept)
    except DataError as err:
        log.warning("%s: not pruned (%s)", lock, err)
        return []
    log.info("%s: dropped %d entries of stages dvc.yaml no longer has whose files are gone "
             "(%s)", lock, len(gone), ", ".join(f"{n}: {missing[n]}" for n in gone[:3])
             + (", ..." if len(gone) > 3 else ""))
    return gone


def prune(lock: Path, views: Path | str = "params") -> list[str]:
    """The params stage's step: :func:`drop_entries` with the stages of ``lock``'s dvc.yaml.
    A speed-up only, so a failure to read the stage names is one warning, not a failed stage
    (DVC keeps working with every entry, only slower)."""
    try:
        keep = current_stages(lock.parent)
    except Exception as err:  # noqa: BLE001 - any DVC error: keep the lock as it is
        log.warning("%s: not pruned (the stage names of dvc.yaml: %s: %s)", lock,
                    err.__class__.__name__, err)
        return []
    return drop_entries(lock, keep, views)
