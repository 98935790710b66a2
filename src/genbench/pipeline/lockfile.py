"""dvc.lock's entries of stages that dvc.yaml no longer has, set aside by the params stage and
brought back when those stages return.

dvc.yaml's stages follow the selection in params.yaml (``foreach: ${models}``, the seed
matrices), so an experiment on a selection, e.g. the quickstart's ``model=[vae]``, has 17 of
the default run's 240 stages. DVC keeps the lock entries of the other 223 (on purpose:
treeverse/dvc#5293, to ease switching branches) and, after every stage it runs, parses and
rewrites the whole dvc.lock with a round-trip YAML parser: at 240 entries (350 KB) that took
2.9 s per stage, at 17 entries 0.9 s (`dvc repro -f --single-item toys`, 2-core AMD EPYC,
2026-12-04). So the params stage moves the entries of the stages that are gone to a stash file
beside DVC's own temporary files, and moves an entry back to dvc.lock when its stage is in
dvc.yaml again and dvc.lock has none: switching back to the whole selection then finds the
lock as DVC would have kept it, and DVC skips a stage whose dependencies and outputs still
match its entry (an entry is a claim DVC checks, never trusted: a stage whose files changed
meanwhile reruns). A lost stash only costs reruns; ``git checkout -- dvc.lock`` brings the
committed entries back.

Only whole entries move; every line stays byte for byte, and each result is checked to parse
to the entries it should hold before it replaces its file (atomically; the stash first).
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


def move_entries(lock: Path | str, stash: Path | str, keep: set[str]) -> tuple[list[str], list[str]]:
    """Move ``lock``'s entries of the stages not in ``keep`` to ``stash``, and ``stash``'s
    entries of stages in ``keep`` that ``lock`` lacks back to ``lock``. Returns the names moved
    out and back (sorted). A file this cannot split exactly is left as it is (a lock: nothing
    moves, DVC keeps working, only slower; a stash: it is started again)."""
    lock, stash = Path(lock), Path(stash)
    if not lock.exists():
        return [], []
    split = _split(lock.read_text())
    if split is None:
        log.warning("%s: entries not moved (they could not be split exactly)", lock)
        return [], []
    head, entries, parsed = split
    stashed, stash_parsed = {}, {}
    if stash.exists():
        s = _split(stash.read_text())
        if s is None:
            log.warning("%s: unreadable, started again", stash)
        else:
            _, stashed, stash_parsed = s
    out = sorted(n for n in entries if n not in keep)
    back = sorted(n for n in stashed if n in keep and n not in entries)
    if not out and not back:
        return [], []
    new_lock = head + "".join(b for n, b in entries.items() if n in keep) \
        + "".join(stashed[n] for n in back)
    # the stash keeps no entry of a stage dvc.lock has (the lock's is newer) or gets back
    old = [n for n in stashed if n not in entries and n not in back]
    new_stash = "stages:\n" + "".join(stashed[n] for n in old) + "".join(entries[n] for n in out)
    in_lock, in_stash = parsed.get("stages") or {}, stash_parsed.get("stages") or {}
    want_lock = {**parsed, "stages": {**{n: v for n, v in in_lock.items() if n in keep},
                                      **{n: in_stash[n] for n in back}}}
    want_stash = {**{n: in_stash[n] for n in old}, **{n: in_lock[n] for n in out}}
    if _load(new_lock) != want_lock or (_load(new_stash).get("stages") or {}) != want_stash:
        log.warning("%s: entries not moved (the result did not parse back)", lock)
        return [], []
    try:
        write_text(stash, new_stash)  # first: an entry is never only in memory
        write_text(lock, new_lock)
    except DataError as err:
        log.warning("%s: entries not moved (%s)", lock, err)
        return [], []
    log.info("%s: %d entries of stages dvc.yaml no longer has set aside in %s%s; %d brought "
             "back", lock, len(out), stash, f" ({', '.join(out[:3])}, ...)" if out else "",
             len(back))
    return out, back


def prune(lock: Path, stash: Path) -> tuple[list[str], list[str]]:
    """The params stage's step: :func:`move_entries` with the stages of ``lock``'s dvc.yaml.
    A speed-up only, so a failure to read the stage names is one warning, not a failed stage
    (DVC keeps working with every entry, only slower)."""
    try:
        keep = current_stages(lock.parent)
    except Exception as err:  # noqa: BLE001 - any DVC error: keep the lock as it is
        log.warning("%s: entries not moved (the stage names of dvc.yaml: %s: %s)", lock,
                    err.__class__.__name__, err)
        return [], []
    return move_entries(lock, stash, keep)
