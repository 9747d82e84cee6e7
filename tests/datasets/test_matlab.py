"""The level-5 MAT reader, against files written by SciPy."""

import io
import struct
import zlib

import numpy as np
import pytest

from kvae.datasets import _matlab


def _savemat(variables, compress):
    scipy_io = pytest.importorskip("scipy.io")
    buffer = io.BytesIO()
    scipy_io.savemat(buffer, variables, do_compression=compress)
    return buffer.getvalue()


@pytest.mark.parametrize("compress", [False, True])
def test_reads_what_scipy_writes(compress):
    cells = np.empty((3, 1), dtype=object)
    for i, text in enumerate(["a/b.jpg", "Ünïcode", "x"]):
        cells[i, 0] = text
    data = _savemat(
        {
            "file_list": cells,
            "labels": np.array([[1.0], [2.0], [120.0]]),
            "grid": np.arange(6, dtype=np.int32).reshape(2, 3),
            "name": "Chihuahua",
            "empty": np.zeros((0, 0)),
        },
        compress,
    )
    variables = _matlab.read_mat(data)
    assert variables["file_list"] == ["a/b.jpg", "Ünïcode", "x"]
    np.testing.assert_array_equal(variables["labels"], [[1.0], [2.0], [120.0]])
    np.testing.assert_array_equal(variables["grid"], np.arange(6).reshape(2, 3))
    assert variables["name"] == "Chihuahua"
    assert variables["empty"].shape == (0, 0)


def test_big_endian_hand_built_file():
    def element(kind, payload):
        pad = b"\0" * (-len(payload) % 8)
        return struct.pack(">II", kind, len(payload)) + payload + pad

    text = "dog".encode("utf-16-be")
    matrix = (
        element(6, struct.pack(">II", 4, 0))  # flags: mxCHAR_CLASS
        + element(5, struct.pack(">ii", 1, 3))  # dims 1x3
        + element(1, b"s")  # name
        + element(4, text)  # miUINT16 characters
    )
    header = b"MATLAB 5.0 MAT-file, hand-built".ljust(116) + b"\0" * 8
    header += struct.pack(">H", 0x0100) + b"MI"
    data = header + element(14, matrix)
    assert _matlab.read_mat(data) == {"s": "dog"}
    # The same element, zlib-compressed.
    compressed = zlib.compress(element(14, matrix))
    data = header + struct.pack(">II", 15, len(compressed)) + compressed
    assert _matlab.read_mat(data) == {"s": "dog"}


def test_refuses_structs():
    data = _savemat({"s": {"a": 1.0}}, compress=False)
    with pytest.raises(_matlab.MatFileError, match="struct"):
        _matlab.read_mat(data)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"MATLAB", "too short"),
        (b"MATLAB 7.3 MAT-file".ljust(128), "v7.3"),
        (b"x" * 200, "not a MATLAB level-5"),
        (b"MATLAB 5.0 MAT-file".ljust(126) + b"XX", "byte-order"),
    ],
)
def test_refuses_other_files(data, expected):
    with pytest.raises(_matlab.MatFileError, match=expected):
        _matlab.read_mat(data)


def test_truncated_element():
    data = _savemat({"labels": np.ones((3, 1))}, compress=False)
    with pytest.raises(_matlab.MatFileError, match="past the file end"):
        _matlab.read_mat(data[:-8])
