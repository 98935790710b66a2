"""The code a stage runs, and its hashes: the ``code`` entry of every stage view.

Why: DVC reruns a stage when a dependency changes. Listing each stage's source files as
dependencies in dvc.yaml put 8-16 code entries per stage into dvc.lock (126 stages, 310 KB),
and DVC re-reads and rewrites that file after every stage and checks every entry on every
``dvc status``. Instead the ``params`` stage (which depends on all of ``src/genbench`` and
``stages/``) writes the hash of each file a stage imports into that stage's view; the view is
the stage's one dependency for its code, so a stage still reruns exactly when a file it runs
changes, and dvc.lock records one entry instead of a dozen.

Which files: the stage script and, transitively, every ``genbench`` module it imports
(``import``/``from ... import`` anywhere in a file, function-local imports included: a lazy
import is still code the stage may run), plus the ``__init__.py`` of each package on the way.
A module that imports others by a computed name says which in a module-level constant
``IMPORTS_BY_NAME`` (a pattern of module names, ``*`` for one name part: the report's
``"genbench.pipeline.*.report"``, the stages' own report sections); those count as imported.
The model zoo is the other dynamic import: the ``genbench.models`` package's ``__init__`` imports
every model file (so the registry is complete), and Python runs it before any module of the
package. In a model's view it stands for that ``__init__`` and the view's own model file (the
one whose class is decorated ``@register("<kind>")``, with what that imports), not the other
models' files; in a view without a model, for the ``__init__`` alone.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

ZOO = "genbench.models"
BY_NAME = "IMPORTS_BY_NAME"  # module-level constant: the modules a file imports by name


class Sources:
    """The genbench package under ``src_dir`` (``src/genbench``) and the stage scripts under
    ``stages_dir``; paths in the result are relative to ``root`` (the repository)."""

    def __init__(self, src_dir: Path | str, stages_dir: Path | str, root: Path | str = "."):
        self.src, self.stages, self.root = Path(src_dir), Path(stages_dir), Path(root)
        self._parsed: dict[Path, tuple[str, ...]] = {}  # file -> the modules it imports
        self._registrars: dict[str, str] | None = None  # model kind -> the module registering it

    def _module_file(self, module: str) -> Path | None:
        """The file of ``genbench.a.b`` (a module or a package's ``__init__.py``)."""
        parts = module.split(".")
        if parts[0] != "genbench":
            return None
        base = self.src.joinpath(*parts[1:])
        for f in (base.with_suffix(".py"), base / "__init__.py"):
            if f.is_file():
                return f
        return None

    def _parents(self, module: str) -> list[str]:
        """The packages Python runs on the way to ``module``."""
        parts = module.split(".")
        return [".".join(parts[:i]) for i in range(1, len(parts))]

    def _imports(self, path: Path) -> tuple[str, ...]:
        """The genbench modules ``path`` imports (``from pkg import name``: ``pkg.name`` when
        that is a module, else ``pkg``)."""
        if path not in self._parsed:
            self._parsed[path] = self._parse(path)
        return self._parsed[path]

    def _parse(self, path: Path) -> tuple[str, ...]:
        found: list[str] = []
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:  # IMPORTS_BY_NAME = "genbench.a.*.b"
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == BY_NAME
                                                    for t in node.targets):
                found += self._matching(ast.literal_eval(node.value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    sub = f"{node.module}.{a.name}"
                    found.append(sub if self._module_file(sub) else node.module)
        return tuple(m for m in dict.fromkeys(found) if m.split(".")[0] == "genbench")

    def _matching(self, pattern: str) -> list[str]:
        """The genbench modules whose dotted names match ``pattern`` (``*``: one name part)."""
        parts = pattern.split(".")
        if parts[0] != "genbench":
            return []
        files = sorted(self.src.glob("/".join(parts[1:]) + ".py"))
        return [".".join(["genbench", *f.relative_to(self.src).with_suffix("").parts])
                for f in files]

    def _zoo(self, kind: str | None) -> list[str]:
        """The module of the zoo that registers ``kind`` (``@register("<kind>")`` on a class),
        whatever its file is called."""
        if kind is None:
            return []
        if self._registrars is None:
            self._registrars = {}
            for f in sorted((self.src / "models").glob("*.py")):
                for k in _registered_kinds(f):
                    self._registrars[k] = f"{ZOO}.{f.stem}"
        return [self._registrars[kind]] if kind in self._registrars else []

    def files(self, stage: str, kind: str | None = None) -> list[Path]:
        """The files stage ``stage`` (``stages/<stage>.py``) runs for a model of ``kind``."""
        script = self.stages / f"{stage}.py"
        seen: set[Path] = {script}
        todo = list(self._imports(script))
        done: set[str] = set()
        while todo:
            module = todo.pop()
            if module in done:
                continue
            done.add(module)
            if module == ZOO:  # its __init__ imports the whole zoo: the view's model stands for it
                seen.add(self._module_file(ZOO))
                todo += [*self._parents(ZOO), *self._zoo(kind)]
                continue
            todo += self._parents(module)
            f = self._module_file(module)
            if f is None:
                continue
            seen.add(f)
            todo += self._imports(f)
        return sorted(seen)

    def fingerprint(self, stage: str, kind: str | None = None) -> dict[str, str]:
        """``{path: sha256[:16]}`` of :meth:`files`, paths relative to the repository."""
        return {str(f.relative_to(self.root)) if f.is_absolute() else str(f): _hash(f)
                for f in self.files(stage, kind)}


def _registered_kinds(path: Path) -> list[str]:
    """The kinds a model file registers: the string of each ``@register("<kind>")``."""
    kinds = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ClassDef):
            for d in node.decorator_list:
                if (isinstance(d, ast.Call) and getattr(d.func, "id", None) == "register"
                        and d.args and isinstance(d.args[0], ast.Constant)):
                    kinds.append(d.args[0].value)
    return kinds


@cache
def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
