"""What a run trains and tests on: `load_data(config)` returns a `Data`."""

import dataclasses
import os

import numpy as np

from kvae import datasets
from kvae.experiment.flags import flag_name


@dataclasses.dataclass
class Data:
    """The data of one run.

    Attributes:
        train: NumPy array of images, or a batched `tf.data.Dataset`; for a
            conditional run, a pair `(images, labels)` of arrays or a
            dataset of pairs.
        num_train: int. Training images per epoch.
        x_test: NumPy array of test images.
        y_test: NumPy array of test labels.
        image_shape: tuple. `(height, width, channels)`.
        class_names: list of str or `None`.
    """

    train: object
    num_train: int
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    class_names: list | None = None


def load_data(config):
    """Loads the train and test splits of `config` (see `Data`).

    MNIST and KMNIST are read into memory (`kvae.datasets.load_numpy`),
    except the training data with `binarize="dynamic"`, which is a
    `tf.data` pipeline drawing new binary images each epoch. RGB data is a
    `tf.data` pipeline (augmented) for training and an array for testing.

    Raises:
        kvae.datasets.DatasetError: the data cannot be found; for a
            missing training split, the message also says how to train on
            part of the test split instead.
    """
    if config.dataset in datasets.GRAYSCALE_NAMES:
        train, num_train = _grayscale_train(config)
    else:
        train, num_train = _rgb_train(config)
    x_test, y_test, class_names = load_test_split(config)
    return Data(
        train=train,
        num_train=num_train,
        x_test=x_test,
        y_test=y_test,
        image_shape=tuple(x_test.shape[1:]),
        class_names=class_names,
    )


def _grayscale_train(config):
    """The training data and its size, for MNIST and KMNIST."""
    train_split = config.splits[0]
    name = config.dataset
    try:
        if config.binarize == "dynamic":
            train = datasets.load(
                name,
                split=train_split,
                batch_size=config.batch_size,
                shuffle=True,
                seed=config.seed,
                binarize="dynamic",
                manual_dir=config.manual_dir,
                max_examples=config.max_train_examples,
                with_labels=config.conditional,
            )
            num_train = _count_examples(train)
        else:
            train, labels = datasets.load_numpy(
                name,
                split=train_split,
                manual_dir=config.manual_dir,
                max_examples=config.max_train_examples,
            )
            num_train = len(train)
            if config.conditional:
                train = (train, labels)
    except datasets.DatasetError as error:
        folder = config.manual_dir
        # A folder that is not there: the error says so, and the test-split
        # route below would need the same folder.
        if not train_split.startswith("train") or (
            folder and not os.path.isdir(folder)
        ):
            raise
        raise datasets.DatasetError(
            f"{error}\n\n{_partial_data_hint(config, train_split)}"
        ) from None
    return train, num_train


def load_test_split(config):
    """The test images of `config`, as a run tests on them.

    The same images, preprocessing and labels as `train_and_evaluate`'s
    (`config.dataset`, the test split of `config.splits`, `image_size`,
    `max_test_examples`, `manual_dir`, static binarization with
    `binarize`), without loading the training split: to redraw a saved
    run's plots (see `kvae.experiment.plot_latent_pca`).

    Returns:
        `(x_test, y_test, class_names)`: float32 images `(n, height, width,
        channels)`, int labels `(n,)` and the class names (list of str,
        indexed by label) or `None`.

    Raises:
        kvae.datasets.DatasetError: the data cannot be found, or the split
            is empty.
    """
    return load_split_arrays(
        config, config.splits[1], config.max_test_examples
    )


def load_train_arrays(config, max_examples=None):
    """The training images of `config` as a run tests on images: in
    memory, in file order, without augmentation, binarized once (with the
    seed) where the run binarizes. For what is fitted after training (the
    samplers) and the reconstructions of training images.

    Returns:
        `(x_train, y_train, class_names)`, as `load_test_split`.
    """
    limit = config.max_train_examples
    if max_examples is not None:
        limit = min(limit or max_examples, max_examples)
    return load_split_arrays(config, config.splits[0], limit)


def load_split_arrays(config, split, max_examples):
    """The images of `split` of `config`'s dataset, unaugmented, as
    `(x, y, class_names)` NumPy arrays."""
    if config.dataset in datasets.GRAYSCALE_NAMES:
        x, y = datasets.load_numpy(
            config.dataset,
            split=split,
            manual_dir=config.manual_dir,
            max_examples=max_examples,
            binarize="static" if config.binarize else None,
            seed=config.seed,
        )
        return x, y, datasets.class_names(config.dataset)
    test = datasets.load(
        config.dataset,
        split=split,
        batch_size=256,
        shuffle=False,
        augment=False,
        with_labels=True,
        max_examples=max_examples,
        **_rgb_options(config),
    )
    xs, ys = [], []
    for x, y in test.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise datasets.DatasetError(
            f"The split {split!r} of {config.dataset!r} is empty."
        )
    class_names = list(getattr(test, "class_names", None) or []) or None
    return np.concatenate(xs), np.concatenate(ys), class_names


def _rgb_options(config):
    return dict(
        manual_dir=config.manual_dir,
        image_size=config.image_size,
        directory=config.images if config.dataset == "images" else None,
    )


def _partial_data_hint(config, train_split):
    folder = config.manual_dir or "DIR"
    return (
        f"The training split {train_split!r} could not be loaded. If its "
        f"files are missing, put them in the folder given by "
        f"{flag_name('manual_dir')}; or, with the test split alone, train "
        "on part of it and test on the rest, with the flags:\n"
        f"  {flag_name('manual_dir')} {folder} "
        f"{flag_name('train_split')} 'test[:9000]' "
        f"{flag_name('test_split')} 'test[9000:]'"
    )


def _rgb_train(config):
    """The augmented training pipeline and its size, for RGB data."""
    try:
        train = datasets.load(
            config.dataset,
            split=config.splits[0],
            batch_size=config.batch_size,
            shuffle=True,
            seed=config.seed,
            max_examples=config.max_train_examples,
            with_labels=config.conditional,
            **_rgb_options(config),
        )
    except datasets.DatasetError as error:
        if config.dataset == "images":
            raise
        raise datasets.DatasetError(
            f"{error}\n\nOr train on a folder of images instead, with the "
            f"flag {flag_name('images')} DIR."
        ) from None
    # The first pass counts the images and fills the pipeline's cache.
    return train, _count_examples(train)


def _count_examples(dataset):
    count = getattr(dataset, "num_examples", None)
    if count is not None:
        return int(count)
    count = 0
    for batch in dataset.as_numpy_iterator():
        images = batch[0] if isinstance(batch, tuple) else batch
        count += len(images)
    if not count:
        raise datasets.DatasetError("The training split holds no images.")
    return count


def select_examples(labels, count):
    """Indices of `count` examples taking the classes in turn.

    The first example of each class (in class order), then the second of
    each, ...: a grid of 10 columns shows one digit of each class per row.
    """
    labels = np.asarray(labels)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    picked = []
    for rank in range(max(len(g) for g in groups)):
        for group in groups:
            if rank < len(group):
                picked.append(int(group[rank]))
            if len(picked) == count:
                return np.asarray(picked)
    return np.asarray(picked)
