"""Where the examples come from: a prepared tfds dataset, tfds preparing from
`manual_dir` (offline), the original IDX files read directly, or a download.

Order, for `load`:
1. a dataset already prepared in `data_dir` (no files or network needed);
2. `manual_dir` (or `$KVAE_MANUAL_DIR`) holding every original file: tfds
   prepares the dataset from it offline, checksums verified;
3. `manual_dir` holding only some files (a partial download, e.g. KMNIST
   without its train images): for MNIST/KMNIST, the splits whose two IDX
   files are present are read directly, checksums verified; asking for a
   split whose files are missing is an error naming them;
4. no `manual_dir`: tfds downloads, if the dataset's server can be reached.
   With `manual_dir` set, kvae never touches the network.
"""

import contextlib
import os
import socket
import tempfile

import numpy as np

from kvae.datasets import _files
from kvae.datasets.errors import DatasetError
from kvae.datasets.idx import read_idx

NETWORK_TIMEOUT_S = 5


def network_available(host, port=443):
    """Whether a TCP connection to `host` opens within a few seconds."""
    try:
        with socket.create_connection((host, port), timeout=NETWORK_TIMEOUT_S):
            return True
    except OSError:
        return False


def idx_files_for(spec, ranges):
    names = []
    for split_name, _, _ in ranges:
        for filename in spec.idx_files[split_name]:
            if filename not in names:
                names.append(filename)
    return names


def idx_available_splits(spec, folder):
    return [
        split
        for split, files in spec.idx_files.items()
        if len(_files.existing(folder, files)) == len(files)
    ]


def read_idx_split(spec, folder, split_name):
    """Images `(N, 28, 28, 1)` uint8 and labels `(N,)` int64 of one split."""
    image_file, label_file = spec.idx_files[split_name]
    images = read_idx(_files.verify_file(spec, folder, image_file))
    labels = read_idx(_files.verify_file(spec, folder, label_file))
    n = spec.split_sizes[split_name]
    if images.shape != (n, 28, 28) or labels.shape != (n,):
        raise DatasetError(
            f"{folder}: {image_file} has shape {images.shape} and "
            f"{label_file} {labels.shape}; expected ({n}, 28, 28) and ({n},)."
        )
    return images[..., None], labels.astype(np.int64)


def read_idx_ranges(spec, folder, ranges):
    images, labels = [], []
    cache = {}
    for split_name, start, stop in ranges:
        if split_name not in cache:
            cache[split_name] = read_idx_split(spec, folder, split_name)
        x, y = cache[split_name]
        images.append(x[start:stop])
        labels.append(y[start:stop])
    return np.concatenate(images), np.concatenate(labels)


def check_idx_route(spec, folder, ranges, split):
    """Raises the missing-files error if `ranges` need absent IDX files."""
    needed = idx_files_for(spec, ranges)
    missing = [f for f in needed if f not in _files.existing(folder, needed)]
    if missing:
        raise _files.missing_files_error(
            spec,
            folder,
            missing,
            split=split,
            available=idx_available_splits(spec, folder),
        )


def no_source_error(spec, data_dir, reason):
    return DatasetError(
        f"Cannot load {spec.name!r}: it is not prepared in data_dir "
        f"{data_dir!r}, no manual_dir was given (nor "
        f"${_files.MANUAL_DIR_ENV}), and {reason}\n" + _files.how_to_fix(spec)
    )


def tfds_builder(spec, data_dir):
    import tensorflow_datasets as tfds

    return tfds.builder(spec.name, data_dir=data_dir)


def prepare_offline(builder, spec, folder):
    """tfds prepares `builder` from the original files in `folder`."""
    import tensorflow_datasets as tfds

    for f in spec.files:
        _files.verify_file(spec, folder, f.filename)
    config = tfds.download.DownloadConfig(
        manual_dir=folder, try_download_gcs=False
    )
    # Downloads/extractions go to a temporary folder: the originals stay in
    # manual_dir and only the prepared dataset is kept in data_dir.
    with tempfile.TemporaryDirectory(prefix="kvae_tfds_") as tmp:
        try:
            builder.download_and_prepare(
                download_dir=tmp, download_config=config
            )
        except tfds.download.NonMatchingChecksumError as e:
            raise DatasetError(
                f"A file in {folder} does not match the checksum "
                f"tensorflow-datasets registers for {spec.name!r}:\n{e}\n"
                + _files.how_to_fix(spec, folder)
            ) from e


def prepare_online(builder, spec):
    if not network_available(spec.host):
        raise no_source_error(
            spec,
            _data_root(builder),
            f"the download server {spec.host} cannot be reached (no network?).",
        )
    import tensorflow_datasets as tfds

    config = tfds.download.DownloadConfig(try_download_gcs=False)
    try:
        builder.download_and_prepare(download_config=config)
    except (OSError, tfds.download.DownloadError) as e:
        raise no_source_error(
            spec, _data_root(builder), f"the download failed ({e})."
        ) from e


def locate(spec, ranges, split, data_dir, manual_dir, prefer_idx=False):
    """Returns ("tfds", builder) or ("idx", folder) for `load`/`load_numpy`.

    `prefer_idx` (the NumPy route) reads IDX files from `manual_dir` when
    the requested splits' files are there, before looking for a prepared
    tfds dataset, so that it never needs TensorFlow for them.
    """
    folder = _files.manual_folder(spec.name, manual_dir)
    if prefer_idx and folder is not None and spec.idx_files:
        needed = idx_files_for(spec, ranges)
        if len(_files.existing(folder, needed)) == len(needed):
            return "idx", folder
    builder = tfds_builder(spec, data_dir)
    if _is_prepared(builder):
        return "tfds", builder
    if folder is not None:
        all_files = [f.filename for f in spec.files]
        if len(_files.existing(folder, all_files)) == len(all_files):
            prepare_offline(builder, spec, folder)
            return "tfds", builder
        if spec.idx_files:
            check_idx_route(spec, folder, ranges, split)
            return "idx", folder
        missing = [
            f for f in all_files if f not in _files.existing(folder, all_files)
        ]
        raise _files.missing_files_error(spec, folder, missing)
    prepare_online(builder, spec)
    return "tfds", builder


def _is_prepared(builder):
    with contextlib.suppress(OSError):
        return builder.is_prepared()
    return False


def _data_root(builder):
    # builder.data_dir is <data_dir>/<name>/<version>.
    return os.path.dirname(os.path.dirname(os.fspath(builder.data_dir)))
