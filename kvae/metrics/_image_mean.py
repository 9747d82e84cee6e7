"""The state shared by the image metrics: a weighted mean of per-image
values, which is `keras.metrics.Mean`."""

import keras
from keras import ops


class ImageMean(keras.metrics.Mean):
    """A `keras.metrics.Mean` of one value per image.

    Subclasses implement `per_image(y_true, y_pred)`, returning shape
    `(batch,)`; `update_state` casts the images to the metric's dtype,
    checks their shapes and adds the values, weighted by `sample_weight`.
    """

    # Images smaller than this are rejected (the SSIM window).
    min_image_size = 1

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, self.dtype)
        y_pred = ops.cast(y_pred, self.dtype)
        check_images(y_true, y_pred, self.min_image_size)
        values = self.per_image(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = ops.reshape(
                ops.cast(sample_weight, self.dtype), (-1,)
            )
        super().update_state(values, sample_weight=sample_weight)

    def per_image(self, y_true, y_pred):
        raise NotImplementedError


def check_images(y_true, y_pred, min_size=1):
    """Static shape checks shared by the image metrics."""
    if len(y_true.shape) != 4 or len(y_pred.shape) != 4:
        raise ValueError(
            "Expected batches of images of shape (batch, height, width, "
            f"channels); got {tuple(y_true.shape)} and "
            f"{tuple(y_pred.shape)}."
        )
    for a, b in zip(y_true.shape[1:], y_pred.shape[1:]):
        if a is not None and b is not None and a != b:
            raise ValueError(
                "`y_true` and `y_pred` must have the same shape; got "
                f"{tuple(y_true.shape)} and {tuple(y_pred.shape)}."
            )
    for size in y_true.shape[1:3]:
        if size is not None and size < min_size:
            raise ValueError(
                f"Images of shape {tuple(y_true.shape[1:])} are smaller "
                f"than the SSIM window ({min_size})."
            )
