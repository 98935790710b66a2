"""The model zoo: one file per model, each registering its class with ``@register``
(:mod:`genbench.models.registry`).

Python runs this file before any module of the package, so importing anything from
``genbench.models`` imports every module in this folder first and the registry is complete:
adding a model is adding its file (and its ``conf/model/<name>.yaml``), with no list to edit.
The imports are by name, found on disk, so the package's files do not import this one back.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
