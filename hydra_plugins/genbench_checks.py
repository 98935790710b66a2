"""Hydra search-path plugin: the checks that must come before DVC composes params.yaml for
`dvc exp run -S …`. DVC imports it from the repository root (.dvc/config: hydra.plugins_path,
the root by default) and Hydra runs it as a composition starts, so a refusal leaves params.yaml
untouched and prints one line:
- a second run in a busy workspace (src/genbench/busy.py says why);
- a conf/ file that is not valid YAML, a group choice with no file (src/genbench/conf_check.py).
"""

import sys
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

ROOT = Path(__file__).resolve().parents[1]


class GenbenchChecks(SearchPathPlugin):
    """Adds nothing to the search path: runs the checks when a composition starts."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from genbench import busy, conf_check
        from genbench.core.errors import ConfigError

        try:
            busy.check(ROOT)
            conf_check.check(ROOT / "conf", sys.argv if _in_dvc() else [])
        except (busy.WorkspaceBusy, ConfigError) as e:
            raise _error(str(e)) from None


def _in_dvc() -> bool:
    return Path(sys.argv[0]).name == "dvc"


def _error(line: str) -> BaseException:
    """DVC prints its own exceptions as one `ERROR: …` line (others as an "unexpected error"
    with a support banner); elsewhere (`make params` composes too) the line ends the process."""
    if not _in_dvc():
        return SystemExit(f"error: {line}")
    from dvc.exceptions import DvcException

    return DvcException(line)
