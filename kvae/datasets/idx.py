"""Reader for the IDX format of the original MNIST and KMNIST files."""

import gzip
import os
import zlib

import numpy as np

from kvae.datasets.errors import DatasetError

# The third byte of the magic number names the element type (big-endian).
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path):
    """Reads an IDX file (`.gz`-compressed or raw) into a NumPy array.

    IDX is the format of the original MNIST distribution (LeCun et al.) that
    KMNIST and Fashion-MNIST reuse: a 4-byte magic number whose third byte is
    the element type and fourth byte the number of dimensions, then one
    big-endian int32 per dimension, then the data. NumPy only: no
    TensorFlow needed.

    Args:
        path: str or path-like. An `*-idx?-ubyte` file, gzip-compressed when
            its name ends in `.gz`.

    Returns:
        A NumPy array with the file's shape, in native byte order
        (`uint8` for MNIST images `(N, 28, 28)` and labels `(N,)`).

    Raises:
        DatasetError: if the file is truncated, not gzip, or not IDX.

    Example:

    ```python
    images = kvae.datasets.read_idx("mnist/t10k-images-idx3-ubyte.gz")
    images.shape  # (10000, 28, 28)
    ```
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise DatasetError(
            f"{path} could not be decompressed ({e}); it is truncated or "
            "corrupt. Download the original file again."
        ) from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number).")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DatasetError(f"{path}: unknown IDX element type 0x{code:02x}.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path} is truncated inside its IDX header.")
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DatasetError(
            f"{path} holds {len(data) - header:,} data bytes, but its IDX "
            f"header promises shape {shape} ({expected:,} bytes); the file "
            "is truncated or corrupt. Download the original file again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)
