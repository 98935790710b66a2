"""Hydra search-path plugin that stops a second `dvc exp run -S …` in a busy workspace before
DVC rewrites params.yaml (src/genbench/busy.py says why and how). DVC imports it from the
repository root (.dvc/config: hydra.plugins_path, the root by default) when it composes."""

import sys
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

ROOT = Path(__file__).resolve().parents[1]


class WorkspaceBusyCheck(SearchPathPlugin):
    """Adds nothing to the search path: runs genbench.busy.check when a composition starts."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from genbench.busy import WorkspaceBusy, check

        try:
            check(ROOT)
        except WorkspaceBusy as e:
            raise _dvc_error(str(e)) from None


def _dvc_error(line: str) -> BaseException:
    """DVC prints its own exceptions as one `ERROR: …` line (others with a bug-report banner);
    elsewhere (`make params` composes too) the line itself ends the process."""
    if Path(sys.argv[0]).name != "dvc":
        return SystemExit(f"error: {line}")
    from dvc.exceptions import DvcException

    return DvcException(line)
