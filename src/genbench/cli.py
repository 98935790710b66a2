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


def _set_threads(threads: int) -> None:
    """Every thread pool of the process to ``train.threads`` (0 = the libraries' defaults):
    torch's intra-op pool, and the BLAS/OpenMP pools numpy and scikit-learn use."""
    if not threads:
        return
    import torch

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - scikit-learn brings it
        pass


def stage_main(description: str, add_args: Callable[[argparse.ArgumentParser], None],
               run: Callable[[argparse.Namespace, object], object], view: str) -> None:
    """Parse the stage's paths, load and validate its view of the params (``view``: the name
    of its class in :mod:`genbench.core.config`), then ``run(args, params)``."""
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
        from genbench.params import load_view

        params = load_view(args.params, getattr(config, view), getattr(args, "model", None))
        threads = getattr(params, "train", None)
        _set_threads(threads.threads if threads is not None else 1)
        run(args, params)
    except GenbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt as err:  # the engine's Interrupted says where a rerun starts
        print(f"error: {err or 'interrupted; rerun the stage'}", file=sys.stderr)
        sys.exit(130)
