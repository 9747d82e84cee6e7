"""Checks of the class labels given to `kvae.ConditionalVAE`, made before
any step, with errors that say what is wrong and how to fix it."""

import numpy as np

from kvae import model_args
from kvae import validation


def check_num_classes(num_classes):
    """`num_classes` as an int, or a `ValueError` unless it is an int >= 2
    (10 for MNIST or KMNIST, 120 for Stanford Dogs)."""
    model_args.check_int("num_classes", num_classes, 2)
    return int(num_classes)


def check_labels(labels, num_classes, count=None, what="labels"):
    """The labels as int32 class indices `(n,)`, or a `ValueError`.

    Takes class indices `(n,)` or `(n, 1)` (ints, or floats with integer
    values) or one-hot rows `(n, num_classes)`.

    Args:
        labels: array-like of labels.
        num_classes: int. Labels must lie in `[0, num_classes)`.
        count: int or `None`. The number of images they label.
        what: str. Names the labels in the message.
    """
    if labels is None:
        raise ValueError(
            f"The {what} are missing: a kvae.ConditionalVAE needs a class "
            "label for every image. Pass fit(images, labels), a dataset "
            "of (images, labels) pairs, or labels= to the method."
        )
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[-1] == num_classes:
        if not np.isin(array, (0, 1)).all() or not (array.sum(-1) == 1).all():
            raise ValueError(
                f"The {what} have shape {array.shape}, one-hot rows of "
                f"{num_classes} classes, but some rows are not one-hot "
                "(a single 1, zeros elsewhere). Give class indices instead."
            )
        array = array.argmax(-1)
    elif array.ndim == 2 and array.shape[-1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"The {what} must be class indices (n,) or one-hot rows (n, "
            f"{num_classes}), got shape {array.shape}."
        )
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(
            f"The {what} must be integer class indices, got dtype "
            f"{array.dtype}. Map class names to indices first."
        )
    if not np.issubdtype(array.dtype, np.integer):
        integral = np.isfinite(array) & (array == np.round(array))
        if not integral.all():
            bad = array[~integral][:5]
            raise ValueError(
                f"The {what} must be integer class indices, but some are "
                f"not whole numbers: {bad.tolist()}."
            )
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        bad = array[(array < 0) | (array >= num_classes)]
        raise ValueError(
            f"The {what} must lie in [0, {num_classes - 1}] (the model has "
            f"num_classes={num_classes}), but {len(bad)} do not, e.g. "
            f"{np.unique(bad)[:5].tolist()}."
        )
    if count is not None and len(array) != count:
        raise ValueError(
            f"There are {len(array)} {what} for {count} images: give one "
            "label per image."
        )
    return array.astype("int32")


def peek_labels(data):
    """The labels of `data`'s first batch (`data` as `peek_images` takes
    it: a pair of arrays, a dataset, a `PyDataset` or a `DataLoader`), or
    `None` where the batches hold images alone."""
    if data is None or isinstance(data, (dict, np.ndarray)):
        return None
    if isinstance(data, (tuple, list)):
        return data[1] if len(data) > 1 else None
    if validation.is_tf_dataset(data):
        for batch in data.take(1).as_numpy_iterator():
            return peek_labels(batch)
        return None
    if hasattr(data, "__getitem__") and hasattr(data, "num_batches"):
        return peek_labels(data[0])
    if type(data).__module__.startswith("torch.utils.data"):
        for batch in data:
            return peek_labels(batch)
    return None


def label_list(labels, n):
    """`labels` for `n` images: one int for all, or one per image."""
    if isinstance(labels, (int, np.integer)) and not isinstance(labels, bool):
        return np.full((int(n),), int(labels))
    return labels


def row_count(x):
    """The number of rows of `x` (an array, a tensor or a nested list):
    the number of labels its rows need."""
    return int(np.shape(x)[0]) if not hasattr(x, "shape") else int(x.shape[0])
