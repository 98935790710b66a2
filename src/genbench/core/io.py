"""Atomic file writes and checksums: an interrupted stage never leaves a half-written output."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

#: below this many free bytes a failed write is reported as a full disk (torch's writer turns
#: ENOSPC into a RuntimeError from C++ that does not say so)
LOW_SPACE = 16 << 20


def _disk_full(err: BaseException, folder: Path) -> bool:
    import errno
    import shutil

    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return True
    try:
        return isinstance(err, (OSError, RuntimeError)) and \
            shutil.disk_usage(folder).free < LOW_SPACE
    except OSError:
        return False


def _atomic(path: Path | str, write: Callable[[str], None]) -> Path:
    """Write through ``write(tmp_path)`` to a temp file beside ``path`` and rename it into place.
    A full disk is one :class:`DataError` line; the previous file at ``path`` is kept."""
    from genbench.core.errors import DataError

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as err:
        if _disk_full(err, path.parent.parent if not path.parent.exists() else path.parent):
            raise DataError(f"{path}: no space left on device; free some and rerun") from None
        raise
    try:
        write(tmp)
        os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file, never half
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if _disk_full(err, path.parent):
            raise DataError(f"{path}: no space left on device while writing it (the previous "
                            f"version, if any, is kept); free some space and rerun") from None
        raise
    return path


def write_dir_atomically(out_dir: Path | str, fill: Callable[[Path], None]) -> None:
    """Build a directory in a temp sibling and rename it into place: never a partial output."""
    import shutil

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    tmp.chmod(0o755)  # mkdtemp's 0700 would survive the rename
    try:
        fill(tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: Path | str, text: str) -> Path:
    return _atomic(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path: Path | str, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_bytes(path: Path | str, data: bytes) -> Path:
    return _atomic(path, lambda tmp: Path(tmp).write_bytes(data))


#: the key under which a saved record (model, checkpoint, curve, samples, evaluator) carries
#: the sha256 of its own contents (:func:`content_sha256`), checked by :func:`torch_load`
SHA_KEY = "sha256"


def content_sha256(obj: Any) -> str:
    """sha256 of a record's contents, independent of how torch serialises them: every tensor's
    dtype, shape and raw bytes, every other leaf's ``repr``, dict keys in sorted order. A file
    whose tensors were altered after saving (flipped floats, a changed byte in the data) no
    longer matches the digest it was saved with, though torch still loads it."""
    import torch

    h = hashlib.sha256()

    def feed(x: Any) -> None:
        if torch.is_tensor(x):
            t = x.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}:".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            h.update(b"{")
            for k in sorted(x, key=repr):
                h.update(repr(k).encode() + b"=")
                feed(x[k])
            h.update(b"}")
        elif isinstance(x, (list, tuple)):
            h.update(b"[")
            for v in x:
                feed(v)
            h.update(b"]")
        else:
            h.update(repr(x).encode() + b";")

    feed(obj)
    return h.hexdigest()


def torch_save(path: Path | str, obj: Any) -> Path:
    """``torch.save`` atomically; a dict record gets :data:`SHA_KEY`, the sha256 of its
    contents, which :func:`torch_load` checks (the data splits carry theirs in meta.json). Through
    a file object: given a path, torch names the zip's inner folder after the (random) temp
    file, so equal tensors got different bytes and DVC hashes every run; a file object gets the
    fixed name "archive"."""
    import torch

    if isinstance(obj, dict):
        body = {k: v for k, v in obj.items() if k != SHA_KEY}
        obj = {**body, SHA_KEY: content_sha256(body)}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            torch.save(obj, f)

    return _atomic(path, write)


def torch_load(path: Path | str, fix: str = "rebuild it with `dvc repro -f` of the stage "
                                           "that writes it") -> Any:
    """Load a genbench tensor file; ``weights_only`` refuses pickled code. A missing, empty,
    truncated or foreign file, or one whose contents no longer match the sha256 it was saved
    with (:func:`torch_save`), is one :class:`DataError` line naming it and ``fix``. The record
    comes back without its digest."""
    import torch

    from genbench.core.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing; {fix}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise DataError(f"{path}: unreadable ({_load_failure(path, err)}); {fix}") from None
    if isinstance(obj, dict) and SHA_KEY in obj:
        saved = obj.pop(SHA_KEY)
        if content_sha256(obj) != saved:
            raise DataError(f"{path}: damaged (its contents do not match the sha256 it was "
                            f"saved with); {fix}")
    return obj


def _load_failure(path: Path, err: Exception) -> str:
    """What is wrong with a file torch could not load, in a few words."""
    msg = str(err)
    if path.stat().st_size == 0:
        return "empty file"
    if "central directory" in msg or isinstance(err, EOFError) or "zip archive" in msg:
        return "truncated or not a torch file"
    if "Weights only load failed" in msg or "weights_only" in msg:
        return "not a genbench tensor file: refused by weights-only loading"
    return f"{type(err).__name__}: {msg.splitlines()[0][:80] if msg else 'damaged'}"


def save_figure(path: Path | str, fig) -> Path:
    return _atomic(path, lambda tmp: fig.savefig(tmp, format=Path(path).suffix[1:], dpi=110,
                                                 bbox_inches="tight"))


def image_grid(x, nrow: int, padding: int = 2, pad_value: float = 0.5):
    """Images (N, C, H, W) in [0, 1] tiled ``nrow`` per row with ``padding`` pixels of
    ``pad_value`` around each: torchvision's ``make_grid`` layout (grey images as 3 identical
    channels), without importing torchvision (1.7 s per stage process). -> (3, H', W')"""
    import torch

    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    n, c, h, w = x.shape
    cols = min(nrow, n)
    rows = -(-n // cols)
    hp, wp = h + padding, w + padding
    grid = torch.full((c, rows * hp + padding, cols * wp + padding), pad_value, dtype=x.dtype)
    for k in range(n):
        r, q = divmod(k, cols)
        grid[:, r * hp + padding:(r + 1) * hp, q * wp + padding:(q + 1) * wp] = x[k]
    return grid


def save_grid(path: Path | str, x, nrow: int, padding: int = 2, pad_value: float = 0.5) -> Path:
    """:func:`image_grid` written as a PNG, atomically; the same bytes as torchvision's
    ``save_image`` of the same tensor (same rounding: ``x * 255 + 0.5`` truncated)."""
    import torch
    from PIL import Image

    grid = image_grid(x.detach().cpu().float(), nrow, padding, pad_value)
    arr = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8)
    img = Image.fromarray(arr.numpy())
    return _atomic(path, lambda tmp: img.save(tmp, format="PNG"))


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_json(path: Path | str, fix: str = "rebuild it with `dvc repro -f` of the stage "
                                          "that writes it") -> Any:
    """A JSON file; missing or invalid: one :class:`DataError` line naming it and ``fix``."""
    from genbench.core.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing; {fix}")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        where = f" at line {err.lineno} column {err.colno}" if hasattr(err, "lineno") else ""
        raise DataError(f"{path}: not valid JSON{where}; {fix}") from None
