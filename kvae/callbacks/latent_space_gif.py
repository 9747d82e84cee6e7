import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from kvae.callbacks import _base
from kvae.callbacks import _frames
from kvae.utils import legend_dot
from kvae.utils.pca import pca_basis

_MAX_DEFAULT_POINTS = 2000


class LatentSpaceGIF(_base.GIFCallback):
    """A GIF of the validation codes `z_mean`, coloured by label, over
    training.

    A 2-D latent is drawn as it is. A larger latent is projected on two
    principal axes: PCA (by SVD) of the codes of the first frame, or a
    `projection` you give; the basis then stays fixed, as do the axis
    limits, so the motion from frame to frame is readable. Projections keep
    the prior's origin at the centre.

    Args:
        images: NumPy array `(n, height, width, channels)` of validation
            images, in the model's data space.
        labels: NumPy array `(n,)` of class labels (ints or strings), or
            one-hot `(n, classes)`. Required.
        output_dir: str. Folder for the GIF; created if needed.
        num_points: int or `None`. How many of the images to encode and
            plot (the first ones). `None` takes all of them, at most 2000,
            which keeps a frame cheap and readable.
        axis_limit: float or `None`. Both axes span `[-axis_limit,
            axis_limit]`, in latent units (the prior puts nearly all its
            mass within 4). `None` fits the limits to the first frame and
            keeps them.
        projection: NumPy array `(latent_dim, 2)` or `None`. A fixed basis
            for latents larger than 2; by default PCA of the first frame.
        class_names: sequence of str or `None`. Legend names, indexed by
            label.
        filename: str. Name of the GIF inside `output_dir`.
        every_n_epochs: int. Draw a frame at the end of every N epochs.
        every_n_batches: int or `None`. If set, draw a frame every N
            training batches instead (for short runs).
        frame_duration: float. Seconds per frame.
        end_pause: float. Seconds the last frame is held before looping.
        frame_size: `(width, height)` in pixels.

    Example:

    ```python
    callback = kvae.callbacks.LatentSpaceGIF(x_test, y_test, "runs/mnist")
    model.fit(x_train, epochs=20, callbacks=[callback])
    ```
    """

    def __init__(
        self,
        images,
        labels,
        output_dir,
        num_points=None,
        axis_limit=4.0,
        projection=None,
        class_names=None,
        filename="latent_space.gif",
        every_n_epochs=1,
        every_n_batches=None,
        frame_duration=0.3,
        end_pause=1.5,
        frame_size=(520, 440),
    ):
        if labels is None:
            raise ValueError(
                "LatentSpaceGIF colours the codes by label: pass the labels "
                "of the validation images (`labels=`)."
            )
        images = np.asarray(images)
        if num_points is None:
            num_points = min(len(images), _MAX_DEFAULT_POINTS)
        if not isinstance(num_points, (int, np.integer)) or num_points < 1:
            raise ValueError(
                f"`num_points` must be a positive int; got {num_points!r}."
            )
        self.num_points = int(num_points)
        self.images = _frames.check_images(
            images, "images", min_count=self.num_points, take=self.num_points
        )
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = labels.argmax(axis=-1)
        if labels.ndim != 1 or len(labels) < self.num_points:
            raise ValueError(
                f"`labels` must be one label per image, shape (n,) or "
                f"one-hot (n, classes), with n >= num_points="
                f"{self.num_points}; got shape {np.shape(labels)}."
            )
        self.labels = labels[: self.num_points]
        if axis_limit is not None and not axis_limit > 0:
            raise ValueError(
                f"`axis_limit` must be positive or None; got {axis_limit!r}."
            )
        self.axis_limit = axis_limit
        self.projection = None
        if projection is not None:
            self.projection = np.asarray(projection, "float32")
            if self.projection.ndim != 2 or self.projection.shape[1] != 2:
                raise ValueError(
                    "`projection` must have shape (latent_dim, 2); got "
                    f"{self.projection.shape}."
                )
        self.class_names = class_names
        self.frame_size = tuple(int(s) for s in frame_size)
        super().__init__(
            output_dir,
            filename,
            every_n_epochs=every_n_epochs,
            every_n_batches=every_n_batches,
            frame_duration=frame_duration,
            end_pause=end_pause,
        )
        # Draw the points in a fixed random order, so no class hides the
        # others by being drawn last.
        self._order = np.random.default_rng(0).permutation(self.num_points)
        self._basis = None
        self._limit = None
        self._figure = None

    def setup(self):
        _base.check_model(self.model, ["encode"], self.images, "LatentSpaceGIF")
        latent_dim = _base.latent_dim_of(self.model, self.images)
        if latent_dim < 2:
            raise ValueError(
                f"LatentSpaceGIF needs a latent space of at least 2 "
                f"dimensions to draw; the model has latent_dim={latent_dim}."
            )
        if self.projection is not None and (
            self.projection.shape[0] != latent_dim
        ):
            raise ValueError(
                f"`projection` has shape {self.projection.shape}, but the "
                f"model has latent_dim={latent_dim}."
            )
        self._latent_dim = latent_dim
        self._basis = self.projection
        if self._basis is None and latent_dim == 2:
            self._basis = np.eye(2, dtype="float32")
        self._limit = self.axis_limit
        self._figure = None

    def make_frame(self, label):
        z_mean, _ = self.model.encode(self.images)
        z_mean = _base.to_numpy(z_mean)
        if self._basis is None:
            self._basis = pca_basis(z_mean)
        points = (z_mean @ self._basis)[self._order]
        if self._limit is None:
            extent = float(np.percentile(np.abs(points), 99.5))
            self._limit = max(1.1 * extent, 1e-3)
        if self._figure is None:
            self._build_figure()
        self._scatter.set_offsets(points)
        self._caption.set_text(_caption_text(label))
        return _frames.render(self._figure)

    def _build_figure(self):
        width, height = self.frame_size
        dpi = _frames.DPI
        figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
        figure.patch.set_facecolor("white")
        # Fixed axes geometry (no automatic layout), so frames line up.
        side = min(height - 80, width - 150)
        ax = figure.add_axes(
            [52 / width, 44 / height, side / width, side / height]
        )
        ax.set_xlim(-self._limit, self._limit)
        ax.set_ylim(-self._limit, self._limit)
        ax.set_aspect("equal", adjustable="box")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_locator(MaxNLocator(5, symmetric=True))
        ax.tick_params(labelsize=8, colors="#444444")
        ax.grid(True, color="#e6e6e6", linewidth=0.6)
        ax.set_axisbelow(True)
        if self.projection is not None:
            names = ("axis 1", "axis 2")
        elif self._latent_dim == 2:
            names = ("$z_0$", "$z_1$")
        else:
            names = (
                f"PC 1 of {self._latent_dim}-D $z$",
                f"PC 2 of {self._latent_dim}-D $z$",
            )
        ax.set_xlabel(names[0], fontsize=9)
        ax.set_ylabel(names[1], fontsize=9)

        classes, index = np.unique(self.labels, return_inverse=True)
        if len(classes) <= 10:
            palette = colormaps["tab10"].colors
        elif len(classes) <= 20:
            palette = colormaps["tab20"].colors
        else:
            palette = colormaps["viridis"](np.linspace(0, 1, len(classes)))
        colors = np.asarray(palette)[index][self._order]
        self._scatter = ax.scatter(
            np.zeros(self.num_points),
            np.zeros(self.num_points),
            c=colors,
            s=5,
            alpha=0.75,
            linewidths=0,
        )
        if len(classes) <= 20:
            handles = [
                legend_dot(palette[i], self._class_name(c), size=5)
                for i, c in enumerate(classes)
            ]
            ax.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                frameon=False,
                fontsize=8,
                handletextpad=0.2,
            )
        self._caption = figure.text(
            0.5,
            1 - 16 / height,
            "",
            ha="center",
            va="center",
            fontsize=10,
            color=_frames.TEXT_COLOR,
        )
        self._figure = figure

    def _class_name(self, label):
        if self.class_names is not None:
            try:
                return str(self.class_names[int(label)])
            except (IndexError, TypeError, ValueError):
                pass
        return str(label)


def _caption_text(label):
    return f"latent space \u00b7 {label}"
