"""`kvae.datasets.load_numpy`: MNIST and KMNIST as in-memory NumPy arrays."""

import numpy as np

from kvae.datasets import _catalog
from kvae.datasets import _options
from kvae.datasets import _sources
from kvae.datasets._splits import resolve_split
from kvae.datasets.errors import DatasetError


def load_numpy(
    name,
    split="train",
    *,
    binarize=None,
    seed=None,
    data_dir=None,
    manual_dir=None,
    max_examples=None,
    value_range=(0, 1),
):
    """Loads MNIST or KMNIST as NumPy arrays `(x, y)`, in memory.

    The fast route for the 28x28 datasets: pass the arrays to
    `model.fit(x, ...)` and Keras slices batches straight from memory on
    every backend, with no tf.data-to-backend conversion per batch (see
    docs/BENCHMARKS.md for the figures).

    Where the data comes from: if `manual_dir` (or `$KVAE_MANUAL_DIR`) holds
    the original IDX files of the requested splits, they are read directly
    (md5 and sha256 verified) with NumPy only: neither TensorFlow nor, for
    plain split names, tensorflow-datasets is needed. Otherwise the tfds
    dataset prepared in `data_dir` is read, or prepared or downloaded as in
    `kvae.datasets.load`. The examples keep the order of their source (IDX
    files: the original order; tfds: tfds' order); shuffle in `fit`.

    Args:
        name: str. "mnist" or "kmnist".
        split: str. A tfds split string ("train", "test[:8000]",
            "train[:90%]", ...).
        binarize: None or "static". "static" draws one Bernoulli sample per
            pixel, once, with `numpy.random.default_rng(seed or 0)`.
            Dynamic binarization (a new sample every epoch) needs a
            pipeline: use `kvae.datasets.load(..., binarize="dynamic")`.
        seed: int or None. Seed of static binarization (None means 0).
        data_dir: str. tensorflow-datasets' data folder.
        manual_dir: str. Folder of original files (or with a subfolder named
            after the dataset). Defaults to `$KVAE_MANUAL_DIR`.
        max_examples: int or None. Keep the first `max_examples` examples.
        value_range: `(0, 1)` or `(-1, 1)`.

    Returns:
        `(x, y)`: float32 images `(N, 28, 28, 1)` and int64 labels `(N,)`.

    Raises:
        DatasetError: as `kvae.datasets.load`.

    Example:

    ```python
    x, y = kvae.datasets.load_numpy("mnist", manual_dir="../shared/data")
    model.fit(x, epochs=10, batch_size=128)
    ```
    """
    _options.check_name(name)
    if name not in _catalog.GRAYSCALE_28:
        raise DatasetError(
            f"load_numpy serves {_catalog.GRAYSCALE_28}; load {name!r} "
            "with kvae.datasets.load."
        )
    if binarize == "dynamic":
        raise ValueError(
            "load_numpy cannot re-sample every epoch: use "
            "kvae.datasets.load(..., binarize='dynamic') for dynamic "
            "binarization, or binarize='static' here."
        )
    _options.check_binarize(name, binarize, allowed=(None, "static"))
    _options.check_positive("max_examples", max_examples)
    low, high = _options.check_value_range(value_range)
    spec = _catalog.DATASETS[name]
    ranges = resolve_split(name, split, spec.split_sizes)
    kind, source = _sources.locate(
        spec, ranges, split, data_dir, manual_dir, prefer_idx=True
    )
    if kind == "idx":
        images, labels = _sources.read_idx_ranges(spec, source, ranges)
    else:
        images, labels = _tfds_arrays(source, split)
    if max_examples is not None:
        images, labels = images[:max_examples], labels[:max_examples]
    x = images.astype(np.float32) / np.float32(255.0)
    if binarize == "static":
        rng = np.random.default_rng(0 if seed is None else seed)
        x = (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)
    if (low, high) != (0.0, 1.0):
        x = x * np.float32(high - low) + np.float32(low)
    return x, labels.astype(np.int64)


def _tfds_arrays(builder, split):
    import tensorflow_datasets as tfds

    try:
        ds = builder.as_dataset(split=split, shuffle_files=False)
    except ValueError as e:
        raise DatasetError(
            f"Bad split {split!r} for {builder.name!r}: {e}"
        ) from None
    batches = list(tfds.as_numpy(ds.batch(10_000)))
    images = np.concatenate([b["image"] for b in batches])
    labels = np.concatenate([b["label"] for b in batches])
    return images, labels
