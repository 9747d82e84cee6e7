import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kvae")
class SSIM(keras.metrics.Metric):
    """Mean structural similarity (SSIM) over images.

    The standard definition of Wang et al. (2004), as in `tf.image.ssim`
    and scikit-image's `structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)`: a Gaussian window, SSIM
    averaged over the valid positions of the window and over channels,
    then one value per image. The metric keeps the (weighted) mean of
    these per-image values over every batch seen since the last reset.

    It is written in `keras.ops` only and holds its state in two metric
    variables, so it runs eagerly, under `tf.function`, in a jitted JAX
    stateless step (`keras.StatelessScope`) and under torch.

    Args:
        max_val: float. Dynamic range of the images (`1.0` for images in
            `[0, 1]`, `255.0` for bytes).
        filter_size: int. Side of the Gaussian window; odd. Images must be
            at least this large.
        filter_sigma: float. Standard deviation of the Gaussian window.
        k1: float. Stabilising constant of the luminance term.
        k2: float. Stabilising constant of the contrast term.
        name: str. Name of the metric.
        dtype: Dtype of the state and of the computation. Inputs are cast
            to it, so mixed-precision models still get float32 SSIM.

    Call arguments (`update_state`):
        y_true: Reference images, shape `(batch, height, width, channels)`.
        y_pred: Images to compare, same shape as `y_true`.
        sample_weight: Optional per-image weights, shape `(batch,)`.

    Example:

    >>> import numpy as np
    >>> m = kvae.metrics.SSIM()
    >>> x = np.random.rand(4, 28, 28, 1).astype("float32")
    >>> m.update_state(x, x)
    >>> float(m.result())  # identical images
    1.0

    Reference:
        Wang, Bovik, Sheikh and Simoncelli. "Image quality assessment: from
        error visibility to structural similarity". IEEE TIP, 2004.
    """

    def __init__(
        self,
        max_val=1.0,
        filter_size=11,
        filter_sigma=1.5,
        k1=0.01,
        k2=0.03,
        name="ssim",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        if int(filter_size) != filter_size or filter_size < 1:
            raise ValueError(
                f"`filter_size` must be a positive odd integer; got "
                f"{filter_size}."
            )
        if filter_size % 2 == 0:
            raise ValueError(f"`filter_size` must be odd; got {filter_size}.")
        self.max_val = max_val
        self.filter_size = int(filter_size)
        self.filter_sigma = filter_sigma
        self.k1 = k1
        self.k2 = k2
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="total"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, self.dtype)
        y_pred = ops.cast(y_pred, self.dtype)
        _check_images(y_true, y_pred, self.filter_size)
        values = ops.image.ssim(
            y_true,
            y_pred,
            max_val=self.max_val,
            filter_size=self.filter_size,
            filter_sigma=self.filter_sigma,
            k1=self.k1,
            k2=self.k2,
            data_format="channels_last",
        )
        _accumulate(self, values, sample_weight)

    def result(self):
        return ops.divide_no_nan(self.total, self.count)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_val": self.max_val,
                "filter_size": self.filter_size,
                "filter_sigma": self.filter_sigma,
                "k1": self.k1,
                "k2": self.k2,
            }
        )
        return config


def _check_images(y_true, y_pred, min_size=1):
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


def _accumulate(metric, values, sample_weight):
    """Adds per-image `values` (shape `(batch,)`) to a mean's state."""
    if sample_weight is None:
        metric.total.assign_add(ops.sum(values))
        metric.count.assign_add(ops.cast(ops.shape(values)[0], metric.dtype))
        return
    sample_weight = ops.cast(sample_weight, metric.dtype)
    sample_weight = ops.reshape(sample_weight, (-1,))
    sample_weight = ops.broadcast_to(sample_weight, ops.shape(values))
    metric.total.assign_add(ops.sum(values * sample_weight))
    metric.count.assign_add(ops.sum(sample_weight))
