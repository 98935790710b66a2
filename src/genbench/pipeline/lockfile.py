"""dvc.lock entries of stages that dvc.yaml no longer has, dropped by the params stage.

dvc.yaml's stages follow the selection in params.yaml (``foreach: ${models}``, the seed
matrices), so an experiment on a selection, e.g. the quickstart's ``model=[vae]``, has 17 of
the default run's 240 stages. DVC keeps the lock entries of the other 223 (on purpose:
treeverse/dvc#5293, to ease switching branches) and, after every stage it runs, parses and
rewrites the whole dvc.lock with a round-trip YAML parser: at 240 entries (350 KB) that took
2.9 s per stage, at 17 entries 0.9 s (`dvc repro -f --single-item toys`, 2-core AMD EPYC,
2026-12-04). Nothing reads the dropped entries: DVC restores a stage from its run cache by the
stage's own command, dependencies and outputs, and ``git checkout -- dvc.lock`` brings the
committed ones back.

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
        (name,) = yaml.safe_load(lines[i].strip())  # a one-key mapping: {name: None}
        out.append((str(name), i, heads[k + 1] if k + 1 < len(heads) else len(lines)))
    return out


def drop_stale_entries(lock: Path | str, keep: set[str]) -> list[str]:
    """Remove from ``lock`` the entries of stages not in ``keep``; returns their names (sorted).
    A lock file this cannot split exactly is left as it is (DVC keeps working, only slower)."""
    lock = Path(lock)
    if not lock.exists():
        return []
    text = lock.read_text()
    lines = text.splitlines(keepends=True)
    entries = _entries(lines)
    stale = sorted(name for name, _, _ in entries if name is not None and name not in keep)
    if not stale:
        return []
    kept = "".join("".join(lines[a:b]) for name, a, b in entries if name is None or name in keep)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    before, after = yaml.load(text, Loader=loader), yaml.load(kept, Loader=loader)
    expected = {**before, "stages": {k: v for k, v in before["stages"].items() if k in keep}}
    if after != expected:
        log.warning("%s: not pruned (its entries could not be split exactly)", lock)
        return []
    try:
        write_text(lock, kept)
    except DataError as err:
        log.warning("%s: not pruned (%s)", lock, err)
        return []
    log.info("%s: dropped %d entries of stages dvc.yaml no longer has (%s%s)", lock, len(stale),
             ", ".join(stale[:4]), ", ..." if len(stale) > 4 else "")
    return stale
