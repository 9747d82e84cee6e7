"""Checks of user data made before training starts, with errors that say
what is wrong and how to fix it."""

import numpy as np

from kvae import contracts


def peek_images(data):
    """A NumPy view of (the first batch of) the images in `data`, or `None`.

    NumPy arrays are returned whole (they are already in memory, so checking
    them all is cheap); for a `tf.data.Dataset`, a `keras.utils.PyDataset`
    or a torch `DataLoader`, the first batch is read. Python generators are
    not peeked at, since that would consume them.
    """
    if data is None:
        return None
    if isinstance(data, (tuple, list)):
        return peek_images(data[0]) if data else None
    if isinstance(data, dict):
        return None
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


def is_tf_dataset(data):
    """Whether `data` is a `tf.data.Dataset` (without importing TensorFlow)."""
    return type(data).__module__.startswith("tensorflow") and hasattr(
        data, "as_numpy_iterator"
    )


def check_images(images, likelihood, what="data"):
    """Raises `ValueError` for NaNs, or values out of [0, 1] under a
    Bernoulli likelihood (most often uint8 images that were not scaled)."""
    images = np.asarray(images)
    if images.ndim < 2:
        raise ValueError(
            f"The {what} must be a batch of images (batch, height, width, "
            f"channels), got an array of shape {images.shape}."
        )
    if not np.issubdtype(images.dtype, np.number):
        raise ValueError(
            f"The {what} must hold numbers, got dtype {images.dtype}."
        )
    if np.issubdtype(images.dtype, np.floating) and np.isnan(images).any():
        count = int(np.isnan(images).sum())
        raise ValueError(
            f"The {what} contains {count} NaN values. Remove or impute them "
            "before training (for example np.nan_to_num), otherwise the loss "
            "becomes NaN at the first step."
        )
    if likelihood == "bernoulli":
        low, high = images.min(), images.max()
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


class DataChecksMixin:
    """Checks the data given to `fit` and `evaluate` of `kvae.VAE` before
    Keras starts: its images (see `check_images`) and their shape, which
    builds the model when it is not built yet."""

    def fit(self, x=None, y=None, validation_data=None, **kwargs):
        if is_tf_dataset(x):
            # A tf.data pipeline shuffles itself (kvae.datasets.load does);
            # Keras only warns that its `shuffle` argument does nothing.
            kwargs.setdefault("shuffle", False)
        self._check_data(x, "training data")
        if validation_data is not None:
            self._check_data(validation_data, "validation_data")
        return super().fit(x, y, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        self._check_data(x, "evaluation data")
        return super().evaluate(x, y, **kwargs)

    def _check_data(self, data, what):
        """Raises `ValueError` if the images in `data` (the first batch of
        a dataset) cannot be used by this model; `what` names the data in
        the message."""
        images = peek_images(data)
        if images is None:
            return
        check_images(images, self.likelihood, what)
        if not self.built:
            self.build(images.shape)
        elif not contracts.shapes_match(self.image_shape, images.shape[1:]):
            raise ValueError(
                f"The {what} has images of shape {tuple(images.shape[1:])}, "
                f"but this model was built for {self.image_shape}."
            )
