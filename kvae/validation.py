"""Checks of user data made before training starts, with errors that say
what is wrong and how to fix it."""

import inspect

import keras
import numpy as np

from kvae import contracts


def peek_images(data):
    """A NumPy view of (the first batch of) the images in `data`, or `None`.

    NumPy arrays are returned whole (they are already in memory, so checking
    them all is cheap); for a `tf.data.Dataset`, a `keras.utils.PyDataset`
    or a torch `DataLoader`, the first batch is read. A Python generator
    must be peeked with `peek_generator`, which gives it back whole.
    """
    if data is None:
        return None
    if isinstance(data, (tuple, list)):
        return peek_images(data[0]) if data else None
    if isinstance(data, dict):
        raise ValueError(
            "kvae models take images, not a dict (keys "
            f"{sorted(map(str, data))}). Give the images alone, or images "
            "and labels as a tuple: for a tf.data pipeline of dicts, "
            "ds.map(lambda d: d['image'])."
        )
    if isinstance(data, np.ndarray):
        return data
    module = type(data).__module__
    if is_tf_dataset(data):
        for batch in data.take(1).as_numpy_iterator():
            return peek_images(batch)
        raise ValueError("The tf.data.Dataset given to the model is empty.")
    if hasattr(data, "__getitem__") and hasattr(data, "num_batches"):
        return peek_images(data[0])  # keras.utils.PyDataset
    if module.startswith("torch.utils.data"):
        for batch in data:
            return peek_images(batch)
        return None
    if hasattr(data, "shape") and hasattr(data, "dtype"):
        try:
            return np.asarray(data)  # a backend tensor
        except (TypeError, ValueError, RuntimeError):
            return None
    return None


def peek_generator(data):
    """`(first, data)` for a Python generator: its first batch and a
    generator that yields that batch again, then the rest. Other data is
    returned as `(None, data)`."""
    if not inspect.isgenerator(data):
        return None, data
    try:
        first = next(data)
    except StopIteration:
        raise ValueError("The generator given to the model is empty.")

    def rechained():
        yield first
        yield from data

    return first, rechained()


def is_tf_dataset(data):
    """Whether `data` is a `tf.data.Dataset` (without importing TensorFlow)."""
    return type(data).__module__.startswith("tensorflow") and hasattr(
        data, "as_numpy_iterator"
    )


def check_images(images, likelihood, what="data"):
    """Raises `ValueError` for data no kvae model can train on: no images,
    channels-first images, integers, non-finite values, or values out of
    [0, 1] under a Bernoulli likelihood. Each message says how to fix it.
    """
    if isinstance(images, list):
        raise ValueError(
            f"The {what} is a Python list; kvae models take a NumPy array "
            "of images (batch, height, width, channels): "
            "np.asarray(images, dtype='float32')."
        )
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(
            f"The {what} must be a batch of images (batch, height, width, "
            f"channels), got an array of shape {images.shape}."
        )
    if images.shape[0] == 0:
        raise ValueError(f"The {what} holds no images (shape {images.shape}).")
    if (
        images.ndim == 4
        and images.shape[1] in (1, 3, 4)
        and images.shape[-1] not in (1, 3, 4)
    ):
        raise ValueError(
            f"The {what} has shape {images.shape}, which looks like "
            "channels-first images (batch, channels, height, width); kvae "
            "expects channels-last (batch, height, width, channels): "
            "np.transpose(x, (0, 2, 3, 1))."
        )
    if not np.issubdtype(images.dtype, np.number) or np.issubdtype(
        images.dtype, np.complexfloating
    ):
        raise ValueError(
            f"The {what} must hold real numbers, got dtype {images.dtype}."
        )
    low, high = images.min(), images.max()
    if not np.issubdtype(images.dtype, np.floating):
        advice = (
            "They look like 8-bit pixels: scale them with "
            "x.astype('float32') / 255."
            if high > 1
            else "Convert them with x.astype('float32')."
        )
        raise ValueError(
            f"The {what} holds integers (dtype {images.dtype}, values in "
            f"[{low}, {high}]), but kvae models take float images, in "
            f"[0, 1] for the Bernoulli likelihood. {advice}"
        )
    finite = np.isfinite(images)
    if not finite.all():
        nan = int(np.isnan(images).sum())
        inf = int(images.size - finite.sum()) - nan
        raise ValueError(
            f"The {what} contains {nan} NaN values and {inf} infinite "
            "values. Remove or impute them before training (for example "
            "np.nan_to_num), otherwise the loss is not finite from the "
            "first step."
        )
    if likelihood == "bernoulli":
        if low < 0 or high > 1:
            hint = (
                " They look like 8-bit pixels: scale them with "
                "x.astype('float32') / 255."
                if high > 1 and high <= 255 and low >= 0
                else ""
            )
            raise ValueError(
                f"The Bernoulli likelihood needs pixel values in [0, 1], but "
                f"the {what} ranges over [{low}, {high}].{hint} For data in "
                "another range use likelihood='gaussian'."
            )


def check_validation_structure(validation_data):
    """Raises `ValueError` for a `validation_data` Keras would misread.

    Keras unpacks a list or tuple as `(x_val, y_val, sample_weight)`, so a
    Python list of images would become one image as `x_val`, a second as
    `y_val`, and so on (or, past three, a raw error that prints them all).
    A tuple of one to three items is Keras's documented structure; the
    images in it are checked by `DataChecksMixin.check_data`.
    """
    fix = (
        "Give the validation images as one NumPy array (batch, height, "
        "width, channels), alone or in a tuple: validation_data=(x_val,) "
        "with x_val = np.asarray(images, dtype='float32')."
    )
    if not isinstance(validation_data, (list, tuple)):
        return
    count = len(validation_data)
    if isinstance(validation_data, list):
        raise ValueError(
            f"The validation_data is a Python list of {count} items, which "
            f"Keras would read as (x, y, sample_weight). {fix}"
        )
    if not 1 <= count <= 3:
        raise ValueError(
            f"The validation_data is a tuple of {count} "
            "items, but Keras takes (x_val,), (x_val, y_val) or (x_val, "
            f"y_val, sample_weight). {fix}"
        )


class DataChecksMixin:
    """Checks the data given to `fit`, `evaluate` and `predict` of
    `kvae.VAE` before Keras starts: its images (see `check_images`) and
    their shape, which builds the model when it is not built yet. Arrays
    are checked whole; a dataset, `PyDataset`, `DataLoader` or Python
    generator by its first batch (a generator gets it back)."""

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        if is_tf_dataset(x) or inspect.isgenerator(x):
            # A tf.data pipeline or a generator shuffles itself
            # (kvae.datasets.load does); Keras only warns that its
            # `shuffle` argument does nothing.
            kwargs.setdefault("shuffle", False)
        self.check_labels_given(y, "fit()")
        x = self.check_data(x, "training data")
        if validation_data is not None:
            check_validation_structure(validation_data)
            validation_data = self.check_data(
                validation_data, "validation_data"
            )
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        self.check_labels_given(y, "evaluate()")
        x = self.check_data(x, "evaluation data")
        return super().evaluate(x, y, **kwargs)

    def predict(self, x, *args, **kwargs):
        x = self.check_data(x, "data given to predict")
        return super().predict(x, *args, **kwargs)

    def check_labels_given(self, labels, what):
        """Raises `ValueError` for class labels, `(n,)` or `(n, 1)`, given
        to an unconditional model. The labels inside a dataset of pairs
        are ignored, and so are targets of the images' shape (Keras's
        `(x, x)` habit for autoencoders)."""
        if labels is not None and (
            np.ndim(labels) <= 1
            or (np.ndim(labels) == 2 and np.shape(labels)[-1] == 1)
        ):
            raise ValueError(
                f"Labels were given to {what}, but a {type(self).__name__} "
                "is unconditional: it models the images alone. Drop the "
                "labels, or train a kvae.ConditionalVAE to use them."
            )

    def check_data(self, data, what):
        """Raises `ValueError` if the images in `data` (the first batch of
        a dataset or generator) cannot be used by this model; `what` names
        the data in the message. Images given as a Python list, alone or
        first in a tuple, are refused. Returns `data`, or for a generator
        one that still yields its first batch."""
        if isinstance(data, list):
            check_images(data, self.likelihood, what)
        if isinstance(data, tuple) and data and isinstance(data[0], list):
            check_images(data[0], self.likelihood, f"{what}[0]")
        first, data = peek_generator(data)
        images = peek_images(data if first is None else first)
        if images is not None:
            self.check_batch(images, what)
        return data

    def check_batch(self, images, what):
        """`check_images` for this model's likelihood, then the shape: it
        builds the model, or must match the one it was built for."""
        check_images(images, self.likelihood, what)
        self.check_image_shape(images.shape, what)

    def check_image_shape(self, shape, what):
        """Builds the model for a batch of `shape`, or raises `ValueError`
        if it was built for images of another shape."""
        if not self.built:
            self.build(tuple(shape))
        elif contracts.shapes_match(self.image_shape, tuple(shape)):
            raise ValueError(
                f"The {what} is one image of shape {tuple(shape)}, without "
                "a batch axis; this model takes batches (batch, "
                f"{', '.join(map(str, self.image_shape))}). Add the axis: "
                "x[None]."
            )
        elif not contracts.shapes_match(self.image_shape, tuple(shape[1:])):
            raise ValueError(
                f"The {what} has images of shape {tuple(shape[1:])}, but "
                f"this model was built for {self.image_shape}. Resize the "
                "images, or train a model for this size."
            )


def image_batches(data, batch_size):
    """NumPy batches of the images in `data`, and how many there are.

    The one loop behind what kvae runs over images outside `fit` (sampler
    fitting, feature extraction, the importance-weighted NLL). An array (a
    NumPy array or a backend tensor) is sliced into batches of
    `batch_size`; a `tf.data.Dataset` or any other iterable is read batch
    by batch as it comes. Of an `(images, labels)` or `(images, labels,
    sample_weight)` batch, only the images are kept. The batches keep
    their dtype: the caller checks and casts them.

    Args:
        data: images `(n, height, width, channels)` as an array, or a
            `tf.data.Dataset` or iterable of such batches.
        batch_size: int. Images per batch, for an array.

    Returns:
        `(batches, count)`: an iterator of NumPy arrays, and the number of
        batches (`None` for a dataset or iterable).
    """
    batches, count = labeled_batches(data, batch_size)
    return (images for images, _ in batches), count


def labeled_batches(data, batch_size, labels=None):
    """`image_batches` with each batch's labels: `(images, labels)` NumPy
    pairs, the labels `None` where there are none. For an array, the labels
    are `labels` (an array of the same length, or `None`), sliced alike;
    for a dataset or iterable, those of its `(images, labels)` batches."""
    if is_array(data):
        array = np.asarray(keras.ops.convert_to_numpy(data))
        count = -(-len(array) // batch_size)
        return (
            (
                array[i : i + batch_size],
                None if labels is None else labels[i : i + batch_size],
            )
            for i in range(0, len(array), batch_size)
        ), count
    if is_tf_dataset(data):
        data = data.as_numpy_iterator()

    def batches():
        for batch in data:
            images, batch_labels, _ = keras.utils.unpack_x_y_sample_weight(
                batch
            )
            if batch_labels is not None:
                batch_labels = np.asarray(
                    keras.ops.convert_to_numpy(batch_labels)
                )
            yield np.asarray(keras.ops.convert_to_numpy(images)), batch_labels

    return batches(), None


def is_array(data):
    """Whether `data` is a NumPy array or a backend tensor (not a dataset,
    a list or another iterable of batches)."""
    return isinstance(data, np.ndarray) or (
        hasattr(data, "shape")
        and hasattr(data, "dtype")
        and not is_tf_dataset(data)
    )
