"""The metric trackers of `kvae.VAE`: its loss terms and image metrics,
updated in every training and test step (never in `call`)."""

import keras
from keras import ops

from kvae.metrics import PSNR
from kvae.metrics import SSIM


class TrackersMixin:
    """`kvae.VAE`'s trackers; the model supplies `loss_names`,
    `image_metrics`, `image_metrics_batch` and `max_val`, and calls
    `_create_trackers` in its constructor."""

    def _create_trackers(self):
        """Creates `loss_trackers` and `image_trackers`."""
        # Never call a tracker "loss": Keras owns that one (`_loss_tracker`).
        # One tracker per entry of `loss_names()`, updated from the dict
        # `compute_elbo` returns: models with more terms log them all.
        self.loss_trackers = [
            keras.metrics.Mean(name=name) for name in self.loss_names()
        ]
        self.image_trackers = []
        if self.image_metrics:
            self.image_trackers = [
                keras.metrics.Mean(name="mse"),
                SSIM(max_val=self.max_val, name="ssim"),
                PSNR(max_val=self.max_val, name="psnr"),
            ]

    def update_trackers(self, x, loss, aux, training=False):
        """Updates every tracker and returns the logs (all backends)."""
        batch_size = ops.shape(x)[0]
        self._loss_tracker.update_state(loss, sample_weight=batch_size)
        for tracker in self.loss_trackers:
            tracker.update_state(aux[tracker.name], sample_weight=batch_size)
        x = ops.cast(x, "float32")
        x_mean = aux["x_mean"]
        if self.image_trackers:
            x_img, x_mean_img = x, x_mean
            if training and self.image_metrics_batch:
                x_img = x[: self.image_metrics_batch]
                x_mean_img = x_mean[: self.image_metrics_batch]
            mse_tracker, ssim_tracker, psnr_tracker = self.image_trackers
            mse_tracker.update_state(
                ops.mean(ops.square(x_img - x_mean_img), axis=-1)
            )
            ssim_tracker.update_state(x_img, x_mean_img)
            psnr_tracker.update_state(x_img, x_mean_img)
        return self.compute_metrics(x, x, x_mean, sample_weight=None)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # An autoencoder's target is its input: labels that come with the
        # data (for plots) never reach the `metrics=` given to compile.
        return super().compute_metrics(x, x, y_pred, sample_weight)

    def unpack_images(self, data):
        """The images of a batch: `x`, `(x,)`, `(x, labels)`, ...; labels
        are ignored, so labelled datasets can be passed to `fit`."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x
