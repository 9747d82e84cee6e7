"""A small reader for MATLAB level-5 .mat files: char, cell and numeric
arrays, compressed or not.

Enough for Stanford Dogs' `train_list.mat` / `test_list.mat` (cell arrays of
file names and a numeric label vector) without making SciPy a dependency of
kvae. Structs, objects, sparse and complex arrays, and the HDF5-based v7.3
format are refused with a `MatFileError`.

Format: "MAT-File Format", The MathWorks, 2021 (level 5, chapter 1).
"""

import struct
import zlib

import numpy as np

HEADER_BYTES = 128
_MI_INT8 = 1
_MI_MATRIX = 14
_MI_COMPRESSED = 15
_NUMERIC_TYPES = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    9: "f8",
    12: "i8",
    13: "u8",
}
_TEXT_TYPES = {16: "utf-8", 17: "utf-16", 18: "utf-32"}
_MX_CELL = 1
_MX_STRUCT = 2
_MX_OBJECT = 3
_MX_CHAR = 4
_MX_SPARSE = 5
_MX_NUMERIC = range(6, 16)
_COMPLEX_FLAG = 0x0800


class MatFileError(ValueError):
    """The bytes are not a MATLAB level-5 file this reader can read."""


def read_mat(data):
    """Variables of a level-5 MAT file, as `{name: value}`.

    Values: a str for a char row (several rows: a list of str), a list
    (column-major, as MATLAB indexes) for a cell array, a NumPy array of the
    stored shape for a numeric array.

    Args:
        data: bytes. The whole file.

    Raises:
        MatFileError: not a level-5 MAT file, or an unsupported array kind.
    """
    if len(data) < HEADER_BYTES:
        raise MatFileError(
            f"{len(data)} bytes: too short for a MAT file's 128-byte header."
        )
    header = data[:HEADER_BYTES]
    if header.startswith(b"MATLAB 7.3"):
        raise MatFileError(
            "a MATLAB v7.3 (HDF5) file; save it with save(..., '-v7') or "
            "'-v6', or read it with h5py."
        )
    if not header.startswith(b"MATLAB 5.0 MAT-file"):
        raise MatFileError(
            "not a MATLAB level-5 MAT file (its header does not start with "
            "'MATLAB 5.0 MAT-file')."
        )
    endian = {b"IM": "<", b"MI": ">"}.get(header[126:128])
    if endian is None:
        raise MatFileError("bad byte-order mark in the MAT file header.")
    variables = {}
    for name, value in _elements(data, HEADER_BYTES, endian, top=True):
        variables[name] = value
    return variables


def _tag(data, offset, endian):
    """`(type, nbytes, data_start, next_offset)` of the element at offset."""
    if offset + 8 > len(data):
        raise MatFileError(f"truncated element tag at byte {offset}.")
    first, second = struct.unpack_from(endian + "II", data, offset)
    if first >> 16:  # Small data element: 1-4 bytes packed in the tag.
        kind, nbytes = first & 0xFFFF, first >> 16
        return kind, nbytes, offset + 4, offset + 8
    start = offset + 8
    end = start + second
    if end > len(data):
        raise MatFileError(f"element at byte {offset} runs past the file end.")
    # Compressed elements are not padded; the others end on 8 bytes.
    padded = end if first == _MI_COMPRESSED else start + (second + 7) // 8 * 8
    return first, second, start, padded


def _elements(data, offset, endian, top=False):
    while offset < len(data):
        if top and len(data) - offset < 8:
            break  # Trailing padding.
        kind, nbytes, start, offset = _tag(data, offset, endian)
        body = data[start : start + nbytes]
        if kind == _MI_COMPRESSED:
            try:
                body = zlib.decompress(body)
            except zlib.error as e:
                raise MatFileError(f"bad compressed element: {e}") from None
            yield from _elements(body, 0, endian)
        elif kind == _MI_MATRIX:
            yield _matrix(body, endian)
        else:
            raise MatFileError(
                f"unexpected top-level element of type {kind} (expected a "
                "matrix)."
            )


def _subelement(body, offset, endian):
    kind, nbytes, start, offset = _tag(body, offset, endian)
    return kind, body[start : start + nbytes], offset


def _numbers(kind, raw, endian):
    if kind not in _NUMERIC_TYPES:
        raise MatFileError(f"unsupported numeric data type {kind}.")
    return np.frombuffer(raw, dtype=endian + _NUMERIC_TYPES[kind])


def _matrix(body, endian):
    """`(name, value)` of one miMATRIX element's contents."""
    if not body:
        return "", np.zeros((0, 0))
    kind, raw, offset = _subelement(body, 0, endian)
    flags = int(_numbers(kind, raw, endian)[0])
    mx_class = flags & 0xFF
    kind, raw, offset = _subelement(body, offset, endian)
    shape = tuple(int(d) for d in _numbers(kind, raw, endian))
    kind, raw, offset = _subelement(body, offset, endian)
    name = raw.decode("ascii", "replace") if kind == _MI_INT8 else ""
    count = int(np.prod(shape)) if shape else 0
    if mx_class == _MX_CELL:
        cells = []
        for _ in range(count):
            kind, nbytes, start, offset = _tag(body, offset, endian)
            if kind != _MI_MATRIX:
                raise MatFileError(f"a cell holds an element of type {kind}.")
            cells.append(_matrix(body[start : start + nbytes], endian)[1])
        return name, cells
    if mx_class in (_MX_STRUCT, _MX_OBJECT, _MX_SPARSE):
        raise MatFileError(
            f"variable {name!r} is a struct, object or sparse array, which "
            "this reader does not support."
        )
    if flags & _COMPLEX_FLAG:
        raise MatFileError(f"variable {name!r} is complex.")
    if count == 0:
        return name, "" if mx_class == _MX_CHAR else np.zeros(shape)
    kind, raw, offset = _subelement(body, offset, endian)
    if mx_class == _MX_CHAR:
        if kind in _TEXT_TYPES:
            codes = np.frombuffer(
                raw.decode(_TEXT_TYPES[kind]).encode("utf-32-le"), "<u4"
            )
        else:
            codes = _numbers(kind, raw, endian)
        chars = np.asarray(codes, np.uint32).reshape(shape, order="F")
        rows = ["".join(map(chr, row)) for row in chars.reshape(shape[0], -1)]
        return name, rows[0] if len(rows) == 1 else rows
    if mx_class not in _MX_NUMERIC:
        raise MatFileError(f"variable {name!r} has unknown class {mx_class}.")
    values = _numbers(kind, raw, endian)
    if values.size != count:
        raise MatFileError(
            f"variable {name!r} holds {values.size} values for shape {shape}."
        )
    return name, values.reshape(shape, order="F")
