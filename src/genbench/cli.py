"""The shared shell of every stage script: argument parsing, the validated params, the thread
count, logging, and the rule that a user-facing failure is one line on stderr and exit status 2
(no traceback wall).

Stage scripts import only this module at the top: torch and the rest of genbench load after
the arguments parse, so ``python stages/<stage>.py --help`` answers without them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable


def _set_threads(threads: int, with_torch: bool = True) -> None:
    """Every thread pool of the process to ``train.threads`` (0 = the libraries' defaults):
    torch's intra-op pool (``with_torch``), and the BLAS/OpenMP pools numpy and scikit-learn
    use."""
    if not threads:
        return
    if with_torch:
        import torch

        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - scikit-learn brings it
        pass


def write_unselected(study: str, metrics: str | None, folders: list[str]) -> None:
    """An unselected study's outputs: ``metrics`` = ``{"selected": false, ...}`` (the report
    and the claims read it as "not run"), each of ``folders`` holding one note; no torch."""
    from genbench.core.io import write_dir_atomically, write_json, write_text

    why = (f"not run: params.yaml's `studies` does not list {study} (conf/toolbox; "
           f"`-S toolbox=all` or `-S 'studies=[{study}]'` runs it)")
    if metrics:
        write_json(metrics, {"selected": False, "study": study, "reason": why})
    for folder in folders:
        write_dir_atomically(folder, lambda d: write_text(d / "NOT_RUN.txt", why + "\n"))
    logging.getLogger(study).info(why)


def _unselected(path: str) -> bool:
    """The view file says its study is not selected (peeked before any heavy import)."""
    import json
    from pathlib import Path

    p = Path(path)
    if p.suffix != ".json" or not p.exists():
        return False
    try:
        return json.loads(p.read_text()).get("selected") is False
    except (ValueError, AttributeError):
        return False  # load_view names the damaged file


def stage_main(description: str, add_args: Callable[[argparse.ArgumentParser], None],
               run: Callable[[argparse.Namespace, object], object], view: str,
               outputs: Callable[[argparse.Namespace], tuple[str | None, list[str]]] | None = None,
               on_error: Callable[[argparse.Namespace], str] | None = None,
               torch: bool = True) -> None:
    """Parse the stage's paths, load and validate its view of the params (``view``: the name
    of its class in :mod:`genbench.core.config`), then ``run(args, params)``.

    A study (``outputs`` given: its metrics file and output folders from the arguments) whose
    view says it is not selected writes :func:`write_unselected`'s stubs instead, in well under
    a second (no torch, no model). ``on_error(args)``: run on a user-facing failure, its words
    appended to the one line (the params stage restores the last valid params.yaml).
    ``torch=False``: a stage that computes nothing with torch (download, claims) leaves its
    thread pool alone, so it does not pay torch's import (1.2 s) to set it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml",
                        help="the stage's view (params/...json, written by the params stage), "
                             "or a whole params file")
    add_args(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from genbench.core.errors import GenbenchError

    try:
        from genbench.core import config

        study = getattr(getattr(config, view), "study", None)
        if outputs is not None and _unselected(args.params):
            return write_unselected(study, *outputs(args))
        from genbench.params import load_view

        params = load_view(args.params, getattr(config, view), getattr(args, "model", None))
        if outputs is not None and getattr(params, "selected", True) is False:
            return write_unselected(study, *outputs(args))  # a whole params file, by hand
        threads = getattr(params, "train", None)
        _set_threads(threads.threads if threads is not None else 1, torch)
        run(args, params)
    except GenbenchError as err:
        print(f"error: {err}{on_error(args) if on_error else ''}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as err:  # the engine's Interrupted says where a rerun starts
        print(f"error: {err or 'interrupted; rerun the stage'}", file=sys.stderr)
        sys.exit(130)
