import numpy as np

from kvae.callbacks import _base
from kvae.callbacks import _frames

_METHODS = ("linear", "spherical")


class InterpolationGIF(_base.ImageGridGIF):
    """A GIF that walks the latent path between pairs of images.

    At the end of training (and, if asked, every N epochs or batches, each
    time replacing the file atomically), each pair of validation images is
    encoded to its posterior means `z_a` and `z_b`, and the path between
    them is decoded. Each frame shows every pair at the same point `t` of
    its path; the frames go from `t=0` to `t=1` and back, pausing at both
    ends, so the GIF loops smoothly. A thin bar under the grid shows `t`.

    Args:
        images: NumPy array `(n, height, width, channels)` of validation
            images, in the model's data space.
        output_dir: str. Folder for the GIF; created if needed.
        grid_size: int or `(rows, cols)`. Number and layout of the pairs.
        pairs: sequence of `(i, j)` index pairs into `images`, one per
            grid cell, or `None` for `(k, k + rows * cols)`.
        steps: int. Points on each path, both ends included; the GIF has
            `2 * steps - 2` frames.
        method: str. `"linear"`, or `"spherical"` (slerp, which keeps the
            codes at the norm typical of the prior).
        filename: str. Name of the GIF inside `output_dir`.
        every_n_epochs: int or `None`. Also rewrite the GIF every N epochs;
            `None` draws it only at the end of training.
        every_n_batches: int or `None`. Also rewrite the GIF every N
            training batches.
        frame_duration: float. Seconds per frame.
        end_pause: float. Seconds each end of the path is held.
        scale: int or `None`. Upscaling of each image; by default small
            images are enlarged to about 48 pixels.
        value_range: `(low, high)`. Data values shown as black and white.

    Example:

    ```python
    callback = kvae.callbacks.InterpolationGIF(
        x_test, "runs/mnist", method="spherical"
    )
    model.fit(x_train, epochs=20, callbacks=[callback])
    ```
    """

    def __init__(
        self,
        images,
        output_dir,
        grid_size=(3, 6),
        pairs=None,
        steps=10,
        method="linear",
        filename="interpolation.gif",
        every_n_epochs=None,
        every_n_batches=None,
        frame_duration=0.12,
        end_pause=0.6,
        scale=None,
        value_range=(0.0, 1.0),
    ):
        if method not in _METHODS:
            raise ValueError(
                f"`method` must be one of {_METHODS}; got {method!r}."
            )
        if not isinstance(steps, (int, np.integer)) or steps < 2:
            raise ValueError(f"`steps` must be an int >= 2; got {steps!r}.")
        self.grid_size = _frames.check_grid_size(grid_size)
        rows, cols = self.grid_size
        count = rows * cols
        images = np.asarray(images)
        if pairs is None:
            self.pairs = None
            index = np.arange(2 * count).reshape(2, count).T
            needed = 2 * count
        else:
            index = np.asarray(pairs, "int64")
            if index.shape != (count, 2):
                raise ValueError(
                    f"`pairs` must hold one (i, j) pair per grid cell: "
                    f"{count} pairs for grid_size={self.grid_size}; got "
                    f"shape {index.shape}."
                )
            if index.min() < 0:
                raise ValueError("`pairs` must hold non-negative indices.")
            self.pairs = [tuple(int(i) for i in p) for p in index]
            needed = int(index.max()) + 1
        images = _frames.check_images(
            images, "images", min_count=needed, take=needed
        )
        # Endpoints a (first `count`) then b (next `count`): one encode call.
        self.images = np.concatenate([images[index[:, 0]], images[index[:, 1]]])
        self.steps = int(steps)
        self.method = method
        super().__init__(
            output_dir,
            filename,
            every_n_epochs=every_n_epochs,
            every_n_batches=every_n_batches,
            frame_duration=frame_duration,
            end_pause=end_pause,
            scale=scale,
            value_range=value_range,
            allow_none_epochs=True,
        )
        self.title = f"{method} interpolation"

    def setup(self):
        _base.check_model(
            self.model, ["encode", "decode"], self.images, "InterpolationGIF"
        )

    def on_train_end(self, logs=None):
        if self._drawn_at != (self._epoch, self._step):
            self._draw(logs)
        super().on_train_end(logs)

    def on_train_begin(self, logs=None):
        self._drawn_at = None
        super().on_train_begin(logs)

    def draw(self, label, logs):
        rows, cols = self.grid_size
        count = rows * cols
        z_mean, _ = self.model.encode(self.images)
        z_mean = _base.to_numpy(z_mean)
        t = np.linspace(0.0, 1.0, self.steps, dtype="float32")
        path = interpolate(z_mean[:count], z_mean[count:], t, self.method)
        decoded = _base.to_numpy(
            self.model.decode(path.reshape(-1, path.shape[-1]))
        ).reshape((self.steps, count) + self.images.shape[1:])
        order = list(range(self.steps)) + list(range(self.steps - 2, 0, -1))
        grids = [self.grid(decoded[i], cols) for i in range(self.steps)]
        strip = _frames.label_strip(
            label, self.title, grids[0].shape[1], grids[0].ndim == 2
        )
        self.writer.reset()
        for i in order:
            frame = _frames.labelled(grids[i], label, strip=strip)
            self.writer.add(_progress_bar(frame, t[i]))
        durations = [
            self.end_pause if i in (0, self.steps - 1) else self.frame_duration
            for i in order
        ]
        self.writer.write(durations)
        self._drawn_at = (self._epoch, self._step)


def interpolate(z_a, z_b, t, method="linear"):
    """Codes along the path from `z_a` to `z_b`, both `(pairs, dim)`, at
    each `t`: an array `(len(t), pairs, dim)`. `"spherical"` is slerp
    (Shoemake, 1985), falling back to linear for (anti)parallel codes."""
    t = np.asarray(t, "float32")[:, None, None]
    linear = (1.0 - t) * z_a + t * z_b
    if method == "linear":
        return linear.astype("float32")
    norm_a = np.linalg.norm(z_a, axis=-1, keepdims=True)
    norm_b = np.linalg.norm(z_b, axis=-1, keepdims=True)
    cosine = np.sum(z_a * z_b, axis=-1, keepdims=True) / np.maximum(
        norm_a * norm_b, 1e-12
    )
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    sin_omega = np.sin(omega)
    safe = np.where(sin_omega > 1e-6, sin_omega, 1.0)
    slerp = (np.sin((1.0 - t) * omega) * z_a + np.sin(t * omega) * z_b) / safe
    return np.where(sin_omega > 1e-6, slerp, linear).astype("float32")


def _progress_bar(frame, t):
    """Marks `t` by a thin bar in the bottom margin of the frame."""
    frame = frame.copy()
    width = frame.shape[1] - 2 * _frames.MARGIN
    length = int(round(float(t) * width))
    top = frame.shape[0] - _frames.MARGIN + 1
    frame[top : top + 2, _frames.MARGIN : _frames.MARGIN + length] = 150
    return frame
