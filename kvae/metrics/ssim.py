import keras
from keras import ops

from kvae.metrics._image_mean import ImageMean


@keras.saving.register_keras_serializable(package="kvae")
class SSIM(ImageMean):
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
        self.min_image_size = self.filter_size

    def per_image(self, y_true, y_pred):
        return ops.image.ssim(
            y_true,
            y_pred,
            max_val=self.max_val,
            filter_size=self.filter_size,
            filter_sigma=self.filter_sigma,
            k1=self.k1,
            k2=self.k2,
            data_format="channels_last",
        )

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
