"""Atomic file writes and checksums: an interrupted stage never leaves a half-written output."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def _atomic(path: Path | str, write: Callable[[str], None]) -> Path:
    """Write through ``write(tmp_path)`` to a temp file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file, never half
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: Path | str, text: str) -> Path:
    return _atomic(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path: Path | str, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_bytes(path: Path | str, data: bytes) -> Path:
    return _atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def torch_save(path: Path | str, obj: Any) -> Path:
    import torch

    return _atomic(path, lambda tmp: torch.save(obj, tmp))


def torch_load(path: Path | str) -> Any:
    """Load a genbench tensor file; ``weights_only`` refuses pickled code."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def save_figure(path: Path | str, fig) -> Path:
    return _atomic(path, lambda tmp: fig.savefig(tmp, format=Path(path).suffix[1:], dpi=110,
                                                 bbox_inches="tight"))


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_json(path: Path | str) -> Any:
    return json.loads(Path(path).read_text())
