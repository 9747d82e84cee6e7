"""`save_sample_figure`: samples of several generators side by side."""

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kvae.utils import atomic_path


def save_sample_figure(panels, path, fd=None, count=36):
    """One panel of `count` images per generator, titled with its FD.

    Args:
        panels: dict of name to images `(n, h, w, c)` in `[0, 1]`.
        path: str. The PNG file.
        fd: dict of name to float, or `None`. Shown in the titles.
        count: int. Images per panel (a square grid).
    """
    cols = int(math.sqrt(count))
    figure = Figure(figsize=(3.2 * len(panels), 3.5), dpi=120)
    FigureCanvasAgg(figure)
    for index, (name, images) in enumerate(panels.items()):
        axis = figure.add_subplot(1, len(panels), index + 1)
        axis.imshow(
            image_grid(images[: cols * cols], cols),
            cmap="gray",
            vmin=0,
            vmax=1,
            interpolation="nearest",
        )
        title = name.replace("_", " ")
        if fd is not None and name in fd:
            title += f"\nFD {fd[name]:.1f}"
        axis.set_title(title, fontsize=10)
        axis.axis("off")
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")


def image_grid(images, cols, gap=1):
    """Images `(n, h, w, c)` in `[0, 1]` tiled `cols` to a row, one
    pixel of white between them, as one array for `imshow`."""
    images = np.clip(np.asarray(images, "float32"), 0, 1)
    n, h, w, c = images.shape
    rows = math.ceil(n / cols)
    canvas = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, c))
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        canvas[
            r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w
        ] = image
    return canvas[..., 0] if c == 1 else canvas
