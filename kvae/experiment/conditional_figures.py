"""The figures of a conditional run: the class grid and style transfer."""

import numpy as np
from keras import ops
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from kvae.callbacks.class_grid_gif import class_grid_inputs
from kvae.experiment.sample_figure import image_grid
from kvae.utils import atomic_path


def style_transfer_images(model, images, labels, classes):
    """Each image with its own label encoded, then decoded with each of
    `classes`: `(n, 1 + len(classes), h, w, c)`, the original first.

    The posterior mean `z` of `q(z | x, y)` keeps what the label does not
    say (slant, stroke width, pose); decoding it with another label draws
    that class in the same style.
    """
    images = np.asarray(images, "float32")
    classes = np.asarray(classes)
    z_mean, _ = model.encode(images, labels)
    z = np.repeat(ops.convert_to_numpy(z_mean), len(classes), axis=0)
    decoded = ops.convert_to_numpy(
        model.decode(z, np.tile(classes, len(images)))
    )
    decoded = decoded.reshape((len(images), len(classes)) + images.shape[1:])
    return np.concatenate([images[:, None], decoded], axis=1)


def save_style_transfer(
    model, images, labels, path, class_names=None, classes=None
):
    """A PNG of `style_transfer_images` for `classes` (default: every
    class of the model): one row per test image, its original in the
    first column."""
    classes = _classes(model, classes)
    rows = style_transfer_images(model, images, labels, classes)
    names = _names(class_names, classes)
    _save_grid(
        rows.reshape((-1,) + rows.shape[2:]),
        1 + len(classes),
        ["image"] + names,
        "each test image encoded with its label, decoded with every label",
        path,
    )


def save_class_grid(
    model, path, columns=8, seed=0, class_names=None, classes=None
):
    """A PNG of the last frame of `kvae.callbacks.ClassGridGIF`: one row
    per class of `classes` (default: every class of the model), the same
    prior noise in each column."""
    classes = _classes(model, classes)
    codes, labels = class_grid_inputs(model, classes, columns, seed)
    images = ops.convert_to_numpy(model.decode(codes, labels))
    _save_grid(
        images,
        columns,
        None,
        "one row per class, the same prior noise in each column",
        path,
        row_titles=_names(class_names, classes),
    )


def _classes(model, classes):
    return list(range(model.num_classes)) if classes is None else classes


def _names(class_names, classes):
    return [str(class_names[c]) if class_names else str(c) for c in classes]


def _save_grid(images, cols, column_titles, title, path, row_titles=None):
    images = np.clip(np.asarray(images, "float32"), 0, 1)
    rows = len(images) // cols
    side = images.shape[1]
    figure = Figure(
        figsize=(0.5 + 0.45 * cols, 0.8 + 0.45 * rows * images.shape[1] / side),
        dpi=120,
    )
    FigureCanvasAgg(figure)
    axis = figure.add_subplot(1, 1, 1)
    axis.imshow(
        image_grid(images, cols),
        cmap="gray",
        vmin=0,
        vmax=1,
        interpolation="nearest",
    )
    if column_titles or row_titles:
        axis.set_xticks([])
        axis.set_yticks([])
        if column_titles:
            step = images.shape[2] + 1
            axis.set_xticks([step * i + step / 2 - 1 for i in range(cols)])
            axis.set_xticklabels(column_titles, fontsize=7, rotation=90)
            axis.xaxis.tick_top()
        if row_titles:
            step = images.shape[1] + 1
            axis.set_yticks([step * i + step / 2 - 1 for i in range(rows)])
            axis.set_yticklabels(row_titles, fontsize=7)
        for spine in axis.spines.values():
            spine.set_visible(False)
    else:
        axis.axis("off")
    if column_titles:
        # Below the grid: the column titles take the top.
        axis.set_xlabel(title, fontsize=8)
    else:
        axis.set_title(title, fontsize=8)
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, format="png")
