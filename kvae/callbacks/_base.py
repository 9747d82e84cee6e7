"""The machinery the kvae callbacks share: the output folder, how often to
draw, frame captions and the GIF file."""

import os
import tempfile

import keras
import numpy as np

from kvae.callbacks import _frames


def prepare_output_dir(output_dir):
    """Creates `output_dir` and proves it writable, or raises `ValueError`
    now rather than after an hour of training."""
    if not isinstance(output_dir, (str, os.PathLike)):
        raise TypeError(
            f"`output_dir` must be a path (str or os.PathLike); got "
            f"{type(output_dir).__name__}."
        )
    path = os.fspath(output_dir)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(
            f"Cannot write to the output folder {path!r}: {error}. Give a "
            "folder that can be created and written to."
        ) from error
    return path


def check_filename(filename):
    if not filename or os.path.basename(filename) != filename:
        raise ValueError(
            f"`filename` must be a plain file name inside `output_dir`; "
            f"got {filename!r}."
        )
    return filename


def check_frequency(every_n_epochs, every_n_batches, allow_none_epochs=False):
    for name, value in (
        ("every_n_epochs", every_n_epochs),
        ("every_n_batches", every_n_batches),
    ):
        if value is None:
            continue
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(
                f"`{name}` must be a positive int or None; got {value!r}."
            )
    if every_n_epochs is None and every_n_batches is None:
        if not allow_none_epochs:
            raise ValueError(
                "Give `every_n_epochs` or `every_n_batches`, so the callback "
                "knows when to draw."
            )


def latent_dim_of(model, images=None):
    """The model's latent size; encodes one image to build it if needed."""
    latent_dim = getattr(model, "latent_dim", None)
    if latent_dim is None and images is not None:
        z_mean, _ = model.encode(images[:1])
        latent_dim = int(keras.ops.shape(z_mean)[-1])
    if latent_dim is None:
        raise ValueError(
            "The model does not know its latent size yet (`latent_dim` is "
            "None): build it, or call fit() with NumPy arrays or a dataset "
            "that the model can peek at."
        )
    return int(latent_dim)


def check_model(model, methods, images=None, who="This callback"):
    """Fails before training if `model` lacks the kvae.VAE `methods` the
    callback calls, or was built for images of another shape."""
    missing = [m for m in methods if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(
            f"{who} draws with a kvae.VAE (it calls "
            f"{', '.join(m + '()' for m in methods)}); the model "
            f"{type(model).__name__} lacks {', '.join(missing)}."
        )
    image_shape = getattr(model, "image_shape", None)
    if images is not None and image_shape is not None:
        if tuple(image_shape) != tuple(images.shape[1:]):
            raise ValueError(
                f"{who} was given images of shape "
                f"{tuple(images.shape[1:])}, but the model takes "
                f"{tuple(image_shape)}."
            )


# The file each running callback writes, and the fit it belongs to: Keras
# gives every callback of one `fit` the same `params` dict, so two
# callbacks with the same `params` and the same path would overwrite each
# other's file.
_WRITERS = {}


def claim_path(callback):
    """Records that `callback` writes `callback.path` in its current fit;
    raises `ValueError` if another callback of the same fit already does."""
    path = os.path.realpath(callback.path)
    params, other = _WRITERS.get(path, (None, None))
    if (
        other is not None
        and other is not callback
        and params is callback.params
    ):
        raise ValueError(
            f"Two callbacks write the same file {path}: "
            f"{type(other).__name__} and {type(callback).__name__}. Give "
            "one of them another `filename` or `output_dir`."
        )
    _WRITERS[path] = (callback.params, callback)


def release_path(callback):
    """Forgets `claim_path`'s record when the fit ends."""
    path = os.path.realpath(callback.path)
    if _WRITERS.get(path, (None, None))[1] is callback:
        del _WRITERS[path]


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


class FrameCallback(keras.callbacks.Callback):
    """Calls `self.draw(label, logs)` every N epochs or every N batches.

    Subclasses implement `draw`, and `setup` for checks that need the model
    (called from `on_train_begin`). Read the model through `self.model`
    only inside `setup` and `draw`: under JAX that property syncs the
    variables, which is needed there and wasted anywhere else.
    """

    def __init__(
        self,
        output_dir,
        filename,
        every_n_epochs=1,
        every_n_batches=None,
        allow_none_epochs=False,
    ):
        super().__init__()
        check_frequency(every_n_epochs, every_n_batches, allow_none_epochs)
        self.output_dir = prepare_output_dir(output_dir)
        self.filename = check_filename(filename)
        self.path = os.path.join(self.output_dir, self.filename)
        self.every_n_epochs = every_n_epochs
        self.every_n_batches = every_n_batches
        if every_n_batches is not None:
            # Only a callback that watches batches overrides the hook: with
            # the default hook Keras may dispatch batch ends asynchronously.
            self.on_train_batch_end = self._on_train_batch_end
        self._epoch = 0
        self._step = 0

    def setup(self):
        """Checks against the model before training; override."""

    def draw(self, label, logs):
        raise NotImplementedError

    def on_train_begin(self, logs=None):
        self._epoch = 0
        self._step = 0
        claim_path(self)
        self.setup()

    def on_train_end(self, logs=None):
        release_path(self)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch
        if self.every_n_batches is not None or self.every_n_epochs is None:
            return
        if (epoch + 1) % self.every_n_epochs == 0:
            self._draw(logs)

    def _on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every_n_batches == 0:
            self._draw(logs)

    def _draw(self, logs):
        self.draw(self.label(), logs)

    def label(self):
        """`"epoch 3/10"`, or `"step 40 · epoch 1/10"` by batches."""
        epochs = (self.params or {}).get("epochs")
        epoch = f"epoch {self._epoch + 1}"
        if epochs:
            epoch += f"/{epochs}"
        if self.every_n_batches is not None:
            return f"step {self._step} \u00b7 {epoch}"
        return epoch


class GIFCallback(FrameCallback):
    """A `FrameCallback` whose frames go into one GIF, rewritten atomically
    after each frame. Subclasses implement `make_frame(label)`, returning
    bytes `(height, width)` (grayscale) or `(height, width, 3)`."""

    def __init__(
        self,
        output_dir,
        filename,
        every_n_epochs=1,
        every_n_batches=None,
        frame_duration=0.3,
        end_pause=1.5,
        allow_none_epochs=False,
    ):
        super().__init__(
            output_dir,
            filename,
            every_n_epochs=every_n_epochs,
            every_n_batches=every_n_batches,
            allow_none_epochs=allow_none_epochs,
        )
        for name, value in (
            ("frame_duration", frame_duration),
            ("end_pause", end_pause),
        ):
            if not value >= 0:
                raise ValueError(f"`{name}` must be >= 0; got {value!r}.")
        self.frame_duration = frame_duration
        self.end_pause = end_pause
        self.writer = _frames.GIFWriter(self.path, frame_duration, end_pause)

    def on_train_begin(self, logs=None):
        self.writer.reset()
        super().on_train_begin(logs)

    def make_frame(self, label):
        raise NotImplementedError

    def draw(self, label, logs):
        self.writer.add(self.make_frame(label))
        self.writer.write()


class ImageGridGIF(GIFCallback):
    """A `GIFCallback` whose frames are captioned grids of images."""

    def __init__(
        self,
        output_dir,
        filename,
        every_n_epochs=1,
        every_n_batches=None,
        frame_duration=0.3,
        end_pause=1.5,
        scale=None,
        value_range=(0.0, 1.0),
        allow_none_epochs=False,
    ):
        super().__init__(
            output_dir,
            filename,
            every_n_epochs=every_n_epochs,
            every_n_batches=every_n_batches,
            frame_duration=frame_duration,
            end_pause=end_pause,
            allow_none_epochs=allow_none_epochs,
        )
        if scale is not None and (
            not isinstance(scale, (int, np.integer)) or scale < 1
        ):
            raise ValueError(
                f"`scale` must be a positive int or None; got {scale!r}."
            )
        self.scale = scale
        self.value_range = _frames.check_value_range(value_range)

    title = None  # caption prefix, e.g. "samples"

    def grid(self, images, cols, group_rows=1):
        """Tiles model outputs `images` into bytes, without a caption."""
        images = to_numpy(images)
        scale = self.scale or _frames.default_scale(images.shape[1:])
        return _frames.tile(
            _frames.to_uint8(images, self.value_range),
            cols,
            scale=scale,
            group_rows=group_rows,
        )

    def grid_frame(self, images, cols, label, group_rows=1):
        """Tiles model outputs `images` into a captioned frame."""
        grid = self.grid(images, cols, group_rows=group_rows)
        return _frames.labelled(grid, label, self.title)
