import gzip
import os

import numpy as np
import pytest

from kvae.datasets import DatasetError
from kvae.datasets import read_idx


def test_read_idx_real_mnist_test_split(shared_dir):
    images = read_idx(
        os.path.join(shared_dir, "mnist", "t10k-images-idx3-ubyte.gz")
    )
    labels = read_idx(
        os.path.join(shared_dir, "mnist", "t10k-labels-idx1-ubyte.gz")
    )
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert images.mean() == pytest.approx(33.791, abs=1e-3)
    np.testing.assert_array_equal(
        np.bincount(labels),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    )


def _idx_bytes(array, code):
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def test_read_idx_raw_int32_big_endian(tmp_path):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(">i4")
    path = tmp_path / "data-idx3-int"
    path.write_bytes(_idx_bytes(array, 0x0C))
    result = read_idx(path)
    np.testing.assert_array_equal(result, array)
    assert result.dtype == np.int32 and result.dtype.isnative


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "truncated or corrupt"),
        (b"\x00\x00\x08\x03\x00\x00", "inside its IDX header"),
        (b"\x08\x03\x00\x00\x00\x00", "bad magic"),
        (b"\x00\x00\x42\x01\x00\x00\x00\x01a", "unknown IDX element type"),
    ],
)
def test_read_idx_bad_files(tmp_path, content, match):
    path = tmp_path / "bad-idx.gz"
    path.write_bytes(gzip.compress(content))
    with pytest.raises(DatasetError, match=match):
        read_idx(path)


def test_read_idx_truncated_gzip(tmp_path, shared_dir):
    with open(
        os.path.join(shared_dir, "mnist", "t10k-labels-idx1-ubyte.gz"), "rb"
    ) as f:
        data = f.read()
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="could not be decompressed"):
        read_idx(path)
