"""The shared shell of every stage script: argument parsing, logging, and the rule that a
user-facing failure is one line on stderr and exit status 2 (no traceback wall)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable

from genbench.errors import GenbenchError


def stage_main(description: str, add_args: Callable[[argparse.ArgumentParser], None],
               run: Callable[[argparse.Namespace], object]) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", default="params.yaml", help="validated params file")
    add_args(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        run(args)
    except GenbenchError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted; rerun the stage to resume from its last checkpoint",
              file=sys.stderr)
        sys.exit(130)
