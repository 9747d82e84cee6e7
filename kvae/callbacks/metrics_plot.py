import math

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from kvae.callbacks import _base
from kvae.callbacks import _frames
from kvae.utils.files import atomic_path

DEFAULT_METRICS = (
    "loss",
    "reconstruction_loss",
    "kl_loss",
    "mse",
    "ssim",
    "psnr",
)
_TITLES = {
    "loss": "loss (negative ELBO)",
    "reconstruction_loss": "reconstruction loss",
    "kl_loss": "KL divergence",
    "mse": "MSE",
    "ssim": "SSIM",
    "psnr": "PSNR (dB)",
}
_TRAIN_COLOR = "#1f77b4"
_VAL_COLOR = "#d62728"


class MetricsPlot(_base.FrameCallback):
    """A PNG of the training curves, rewritten atomically as training goes.

    One panel per metric, training and validation (`val_` logs) together:
    by default the loss, reconstruction loss, KL divergence, MSE, SSIM and
    PSNR that `kvae.VAE` logs. Metrics that are not logged (for example
    with `image_metrics=False`, or without validation data) are left out.

    Args:
        output_dir: str. Folder for the PNG; created if needed.
        metrics: sequence of str. Log names to plot, without `val_`.
        filename: str. Name of the PNG inside `output_dir`.
        every_n_epochs: int. Redraw at the end of every N epochs.
        every_n_batches: int or `None`. If set, also record the training
            logs (running means over the epoch so far) every N batches and
            redraw then; the x axis is then the training step.
        columns: int. Panels per row.
        figure_size: `(width, height)` in inches, at 100 dpi.

    Example:

    ```python
    callback = kvae.callbacks.MetricsPlot("runs/mnist")
    model.fit(x_train, validation_data=(x_test,), callbacks=[callback])
    ```
    """

    def __init__(
        self,
        output_dir,
        metrics=DEFAULT_METRICS,
        filename="metrics.png",
        every_n_epochs=1,
        every_n_batches=None,
        columns=3,
        figure_size=(11.0, 6.0),
    ):
        if isinstance(metrics, str):
            metrics = (metrics,)
        self.metrics = tuple(metrics)
        if not self.metrics:
            raise ValueError("`metrics` must name at least one log.")
        if not isinstance(columns, int) or columns < 1:
            raise ValueError(f"`columns` must be a positive int: {columns!r}")
        self.columns = columns
        self.figure_size = tuple(float(s) for s in figure_size)
        super().__init__(
            output_dir,
            filename,
            every_n_epochs=every_n_epochs,
            every_n_batches=every_n_batches,
        )
        self.history = {}

    def on_train_begin(self, logs=None):
        self.history = {}
        self._checked = False
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.every_n_batches is None:
            self._record(logs, epoch + 1)
        else:
            # Training logs were recorded by batches; add validation ones.
            self._record(
                {k: v for k, v in logs.items() if k.startswith("val_")},
                self._step,
            )
        if not self._checked and not self._plotted():
            raise ValueError(
                f"MetricsPlot found none of {list(self.metrics)} in the logs "
                f"of the first epoch, which has {sorted(logs)}. Pass "
                "`metrics=` with names from the logs."
            )
        self._checked = True
        super().on_epoch_end(epoch, logs)

    def _on_train_batch_end(self, batch, logs=None):
        if (self._step + 1) % self.every_n_batches == 0:
            self._record(logs or {}, self._step + 1)
        super()._on_train_batch_end(batch, logs)

    def _record(self, logs, x):
        for key, value in logs.items():
            name = key[4:] if key.startswith("val_") else key
            if name in self.metrics:
                xs, ys = self.history.setdefault(key, ([], []))
                xs.append(x)
                ys.append(float(value))

    def _plotted(self):
        return [
            m
            for m in self.metrics
            if m in self.history or "val_" + m in self.history
        ]

    def draw(self, label, logs):
        names = self._plotted()
        if not names:
            return
        columns = min(self.columns, len(names))
        rows = math.ceil(len(names) / columns)
        width, height = self.figure_size
        height = height * rows / 2.0
        figure = Figure(figsize=(width, height), dpi=_frames.DPI)
        figure.patch.set_facecolor("white")
        figure.suptitle(
            f"training curves \u00b7 {label}", fontsize=12, y=1 - 0.22 / height
        )
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, name in zip(axes, names):
            self._panel(ax, name)
        for ax in axes[len(names) :]:
            ax.set_visible(False)
        # One legend for all panels: no panel's curves are hidden by it.
        figure.legend(
            handles=[
                Line2D([], [], color=_TRAIN_COLOR, linewidth=1.6),
                Line2D([], [], color=_VAL_COLOR, linewidth=1.6, ls="--"),
            ],
            labels=["train", "validation"],
            loc="upper right",
            bbox_to_anchor=(1 - 0.1 / width, 1 - 0.05 / height),
            ncols=2,
            fontsize=9,
            frameon=False,
        )
        # Fixed margins in inches: tight_layout costs more than the rest.
        figure.subplots_adjust(
            left=0.6 / width,
            right=1 - 0.2 / width,
            bottom=0.5 / height,
            top=1 - 0.95 / height,
            wspace=0.28,
            hspace=0.65 if rows > 1 else 0.2,
        )
        with atomic_path(self.path) as tmp:
            figure.savefig(tmp, format="png", dpi=_frames.DPI)

    def _xs(self, key):
        return self.history.get(key, ([], []))[0]

    def _panel(self, ax, name):
        few = len(self._xs(name)) <= 30
        last = []
        for key, label, color, style in (
            (name, "train", _TRAIN_COLOR, "-"),
            ("val_" + name, "val", _VAL_COLOR, "--"),
        ):
            if key not in self.history:
                continue
            xs, ys = self.history[key]
            ax.plot(
                xs,
                ys,
                style,
                color=color,
                linewidth=1.6,
                marker="o" if few else None,
                markersize=3,
            )
            last.append(f"{label} {ys[-1]:.4g}")
        ax.set_title(
            f"{_TITLES.get(name, name)}\n", fontsize=10, fontweight="bold"
        )
        # The latest values, under the title.
        ax.text(
            0.5,
            1.03,
            "   ".join(last),
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=8,
            color="#555555",
        )
        xs = [x for key in (name, "val_" + name) for x in self._xs(key)]
        if xs and min(xs) == max(xs):
            ax.set_xlim(xs[0] - 1, xs[0] + 1)  # integer ticks for one point
        ax.set_xlabel("step" if self.every_n_batches else "epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
        ax.grid(True, color="#e6e6e6", linewidth=0.6)
