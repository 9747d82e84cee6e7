"""The callbacks of a run: the training timer, the GIFs and plots the
config asks for, and TensorBoard logs."""

import importlib.util
import math
import os
import time

import keras

from kvae import callbacks as kvae_callbacks
from kvae.experiment.conditional import conditional_callbacks
from kvae.experiment.data import select_examples

# TensorBoard logs go into this folder of the run's output folder.
TENSORBOARD_DIR = "tensorboard"


class TrainTimer(keras.callbacks.Callback):
    """Seconds each epoch spends in training batches.

    Measured from the start of the epoch to the start of validation (or
    the end of the epoch), so validation and the drawing callbacks, which
    run at the epoch's end, are not counted.
    """

    def __init__(self):
        super().__init__()
        self.epoch_seconds = []
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_test_begin(self, logs=None):
        self._stop()

    def on_epoch_end(self, epoch, logs=None):
        self._stop()

    def _stop(self):
        if self._start is not None:
            self.epoch_seconds.append(time.perf_counter() - self._start)
            self._start = None


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training at the end of the first epoch whose loss (training
    or validation) is not finite, and records where.

    Checked once per epoch, so that no step waits for its loss; Keras's
    `TerminateOnNaN` checks every batch. After `fit`, `diverged` is `None`
    or `(epoch, name, value)`, epochs counted from 1.
    """

    def __init__(self):
        super().__init__()
        self.diverged = None

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            if name in ("loss", "val_loss") and not math.isfinite(
                float(value)
            ):
                self.diverged = (epoch + 1, name, float(value))
                self.model.stop_training = True
                return


def make_callbacks(config, data, out):
    """The GIF and plot callbacks of `config`, writing into `out`."""
    images = data.x_test
    order = select_examples(data.y_test, len(images))
    shown = images[order]
    result = []
    # A conditional model's figures take labels: its own replace the GIFs.
    gifs = () if config.conditional else config.gifs
    if config.conditional:
        result += conditional_callbacks(config, data, out)
    if "reconstructions" in gifs:
        grid = _fit_grid(config.reconstruction_grid, len(shown))
        result.append(
            kvae_callbacks.ReconstructionGIF(shown, out, grid_size=grid)
        )
    if "samples" in gifs:
        result.append(
            kvae_callbacks.SampleGIF(
                out, grid_size=config.sample_grid, seed=config.seed
            )
        )
    if "interpolation" in gifs:
        grid = _fit_grid(config.interpolation_grid, len(shown) // 2)
        result.append(
            kvae_callbacks.InterpolationGIF(
                shown,
                out,
                grid_size=grid,
                steps=config.interpolation_steps,
                method=config.interpolation_method,
                scale=config.interpolation_scale,
            )
        )
    if "latent_space" in gifs:
        result.append(
            kvae_callbacks.LatentSpaceGIF(
                images,
                data.y_test,
                out,
                class_names=data.class_names,
            )
        )
    if "metrics" in config.plots:
        result.append(kvae_callbacks.MetricsPlot(out))
    if config.tensorboard:
        result += _tensorboard(result, os.path.join(out, TENSORBOARD_DIR))
    return result


def check_tensorboard(config):
    """Raises `ImportError` now, not after loading the data, if the config
    asks for TensorBoard logs and the `tensorboard` package is missing."""
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ImportError(
            "TensorBoard logs need the `tensorboard` package (pip install "
            "tensorboard), or turn them off with --no-tensorboard "
            "(Config(tensorboard=False))."
        )


def _tensorboard(drawn, log_dir):
    """Keras's TensorBoard callback (losses and metrics per epoch) and the
    newest reconstruction and sample grids as images, in `log_dir`."""
    grids = [
        c
        for c in drawn
        if isinstance(
            c, (kvae_callbacks.ReconstructionGIF, kvae_callbacks.SampleGIF)
        )
    ]
    return [
        keras.callbacks.TensorBoard(
            log_dir, write_graph=False, profile_batch=0
        ),
        kvae_callbacks.TensorBoardImages(log_dir, grids),
    ]


def _fit_grid(grid, available):
    """`grid` shrunk (rows first, then columns) to at most `available`."""
    rows, cols = grid
    if available < 1:
        raise ValueError("Not enough test images to draw a grid.")
    while rows * cols > available and rows > 1:
        rows -= 1
    return rows, min(cols, available)
