"""Stop a second DVC run in a workspace that one is already running in, before it touches it.

`dvc exp run -S …` composes params.yaml from conf/ (dvc/repo/experiments/queue/base.py:
``_update_params``) before it takes the workspace's stage locks; started beside a running
experiment it used to rewrite the params.yaml the first one was reading (the first then trained
the second's values, silently) and only then stop on DVC's lock with a message that does not say
what to do. DVC loads the Hydra plugins it finds under the repository (dvc/utils/hydra.py:
``load_hydra_plugins``, the ``hydra.plugins_path`` setting) before composing, and Hydra runs
every search-path plugin when it starts composing (hydra/_internal/utils.py:
``create_config_search_path``): hydra_plugins/genbench_checks.py calls :func:`check` there.

What counts as busy, both files DVC's own:
- ``.dvc/tmp/exps/run/workspace/workspace.json``: the process of a `dvc exp run` in the
  workspace (not ``--queue``/``--temp``: those run in a copy), removed when it ends;
- ``.dvc/tmp/rwlock``: the stages `dvc repro` (or `make repro`'s workers) are running now.
A process that is gone (killed) or is this one or its parent does not count.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

WORKSPACE_RUN = Path(".dvc/tmp/exps/run/workspace/workspace.json")
RWLOCK = Path(".dvc/tmp/rwlock")


def _ours() -> set[int]:
    """This process and its ancestors (DVC composing inside a stage's own parent run)."""
    import psutil

    me = psutil.Process()
    return {me.pid, *(p.pid for p in me.parents())}


def _command(pid: int) -> str | None:
    """The command line of a live process, or None when it is gone."""
    import psutil

    try:
        return " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # absent, or being rewritten by DVC this instant
        return {}
    return data if isinstance(data, dict) else {}


def holders(root: Path) -> dict[int, str]:
    """{pid: command} of the live DVC processes running stages in the workspace at ``root``."""
    pids = set()
    run = _read_json(root / WORKSPACE_RUN)
    if isinstance(run.get("pid"), int):
        pids.add(run["pid"])
    for paths in _read_json(root / RWLOCK).values():  # {"read"|"write": {path: [{pid, cmd}]}}
        for infos in (paths if isinstance(paths, dict) else {}).values():
            for info in infos if isinstance(infos, list) else [infos]:
                if isinstance(info, dict) and isinstance(info.get("pid"), int):
                    pids.add(info["pid"])
    ours = _ours()
    found = {pid: _command(pid) for pid in sorted(pids - ours)}
    return {pid: cmd for pid, cmd in found.items() if cmd is not None}


class WorkspaceBusy(Exception):
    """Another DVC process is running stages in this workspace."""


def _short(cmd: str) -> str:
    """``/x/.venv/bin/python /x/.venv/bin/dvc exp run -S a=1`` -> ``dvc exp run -S a=1``."""
    words = cmd.split(" ")
    for i, w in enumerate(words):
        if os.path.basename(w) == "dvc":
            return " ".join(["dvc", *words[i + 1:]])
    return cmd


def message(root: Path, found: dict[int, str]) -> str:
    """One line: who holds the workspace, that nothing was touched, what to do instead."""
    pid, cmd = next(iter(found.items()))
    # queuing is no way around it: `dvc exp run --queue` stashes the workspace's changes while it
    # queues (dvc/repo/experiments/queue/base.py: _stash_exp), the running one's outputs included
    return (f"{root}: this workspace is busy (pid {pid}: {_short(cmd)}); params.yaml was not "
            f"touched. Rerun when pid {pid} ends; for several experiments queue them while "
            f"the workspace is idle (`dvc exp run --queue -S …`, then `dvc queue start -j 2`: "
            f"each runs in a copy)")


def check(root: Path) -> None:
    """Raise :class:`WorkspaceBusy` (one line) if a DVC run is using the workspace at ``root``."""
    found = holders(root)
    if found:
        raise WorkspaceBusy(message(root, found))
