import keras
from keras import ops

from kvae.metrics._image_mean import ImageMean


@keras.saving.register_keras_serializable(package="kvae")
class PSNR(ImageMean):
    """Mean peak signal-to-noise ratio (PSNR) over images, in dB.

    PSNR is computed for each image from that image's mean squared error,
    `10 * log10(max_val**2 / mse)`, and the metric is the (weighted) mean
    of these per-image values, as scikit-image's `peak_signal_noise_ratio`
    averaged over images. (`keras.ops.psnr` pools the squared error of the
    whole batch first, which gives a different, batch-size dependent
    number.) An image identical to its reference has infinite PSNR.

    Written in `keras.ops` only; runs eagerly, under `tf.function`, in a
    jitted JAX stateless step and under torch.

    Args:
        max_val: float. Dynamic range of the images (`1.0` for images in
            `[0, 1]`, `255.0` for bytes).
        name: str. Name of the metric.
        dtype: Dtype of the state and of the computation.

    Call arguments (`update_state`):
        y_true: Reference images, shape `(batch, height, width, channels)`.
        y_pred: Images to compare, same shape as `y_true`.
        sample_weight: Optional per-image weights, shape `(batch,)`.

    Example:

    >>> import numpy as np
    >>> m = kvae.metrics.PSNR()
    >>> x = np.full((2, 8, 8, 1), 0.5, "float32")
    >>> m.update_state(x, x + 0.1)
    >>> round(float(m.result()), 3)  # 10 * log10(1 / 0.01)
    20.0
    """

    def __init__(self, max_val=1.0, name="psnr", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.max_val = max_val

    def per_image(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))
        return 10.0 * (
            2.0 * ops.log10(ops.cast(self.max_val, self.dtype)) - ops.log10(mse)
        )

    def get_config(self):
        config = super().get_config()
        config["max_val"] = self.max_val
        return config
