"""What a run reports: metrics.json, the summary it prints, the PCA plot
of the latent space, the saved model and markdown tables."""

import dataclasses
import math
import os
import shutil
import statistics

import keras
import numpy as np

from kvae.experiment.combinations import latent_sizes
from kvae.experiment.combinations import not_applying
from kvae.experiment.errors import RunError
from kvae.experiment.generation import generation_summary
from kvae.utils import atomic_path
from kvae.utils import environment
from kvae.utils import legend_dot
from kvae.utils import pca_basis
from kvae.utils.files import partial_files
from kvae.utils.folder_lock import FolderInUseError
from kvae.utils.folder_lock import check_not_in_use
from kvae.utils.folder_lock import describe_owner
from kvae.utils.folder_lock import lock_folder

FILE_DESCRIPTIONS = {
    "model.keras": "the trained model: kvae.load_model(path)",
    "history.csv": "losses and image metrics per epoch, train and test",
    "metrics.json": "final test metrics, speed, versions",
    "reconstructions.gif": "selected test images and their reconstructions",
    "samples.gif": "a fixed grid of latent codes decoded over training",
    "interpolation.gif": "latent interpolations between test images",
    "latent_space.gif": "test codes coloured by class over training",
    "metrics.png": "training curves: -ELBO, KL, MSE, SSIM, PSNR",
    "latent_pca.png": "test codes on their two principal axes",
    "tensorboard": "TensorBoard logs: tensorboard --logdir <this path>",
    "samples.png": "prior samples beside the best fitted sampler's",
    "sampler_gaussian_mixture.npz": "fitted sampler: "
    "kvae.samplers.load_sampler(path, model)",
    "sampler_two_stage.npz": "fitted sampler: "
    "kvae.samplers.load_sampler(path, model)",
    "sampler_flow.npz": "fitted sampler: "
    "kvae.samplers.load_sampler(path, model)",
    "class_grid.gif": "one row per class, the same prior noise in each column",
    "class_grid.png": "the class grid of the trained model",
    "style_transfer.png": "test images decoded with every other label",
}


def prepare_output(path, overwrite=False, outputs=None):
    """Makes `path` a writable folder that this process alone writes, and
    that holds no other run's files.

    The folder (and its parents) is created if needed, and locked (see
    `kvae.utils.folder_lock`): a folder another live process holds is
    refused, whatever `overwrite` says, and nothing in it is touched. The
    lock of a run that was killed is stale and taken over. A folder that
    holds files of a previous run (`outputs`, by default a recipe run's
    `FILE_DESCRIPTIONS`, and the temporary files a killed run left on its
    way to writing them, such as its partial history) is refused, so that
    it never mixes two runs, unless `overwrite` is true: those files are
    then deleted first. Other files are left alone.

    Args:
        path: str. The output folder.
        overwrite: bool. Delete a previous run's files instead of
            refusing the folder.
        outputs: collection of str or `None`. The file names the caller
            writes; `None` for a recipe run's (`FILE_DESCRIPTIONS`).

    Returns:
        A `kvae.utils.folder_lock.FolderLock`, held until it is released
        (use it in a `with` block around the writing), whose `deleted`
        attribute lists the names of the previous run's files deleted.

    Raises:
        RunError: the folder is in use by another run, holds a previous
            run and `overwrite` is false, or cannot be written.
    """
    # A path through a file or an unwritable folder; its previous run's
    # files are checked below, under the lock.
    check_output(path, overwrite=True)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise RunError(
            f"Cannot create the output folder {path!r}: {error.strerror}. "
            "Choose another --out."
        ) from None
    try:
        lock = lock_folder(path)
    except FolderInUseError as error:
        raise _in_use_error(path, error) from None
    try:
        previous = previous_files(path, outputs)
        if previous and not overwrite:
            raise _previous_run_error(path, previous)
        for name in previous:
            target = os.path.join(path, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            else:
                os.remove(target)
    except BaseException:
        lock.release()
        raise
    lock.deleted = previous
    return lock


def check_output(path, overwrite=False, outputs=None):
    """Refuses, before a run reads any data, an output folder that
    `prepare_output` would refuse for what is on the disk: a path through
    an existing file, a folder that cannot be written, one that another
    live run holds, or one that holds a previous run's files while
    `overwrite` is false. Creates, locks and deletes nothing
    (`prepare_output` does, once the data is found).

    Raises:
        RunError: as `prepare_output` would.
    """
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise RunError(
            f"Cannot create the output folder {path!r}: {existing!r} is a "
            "file. Choose another --out."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunError(
            f"The output folder {path!r} is not writable ({existing!r} is "
            "not). Choose another --out or change its permissions."
        )
    if existing != os.path.abspath(path):
        return
    try:
        check_not_in_use(path)
    except FolderInUseError as error:
        raise _in_use_error(path, error) from None
    if not overwrite:
        previous = previous_files(path, outputs)
        if previous:
            raise _previous_run_error(path, previous)


def _in_use_error(path, error):
    return RunError(
        f"The output folder {path!r} is in use by another run: "
        f"{describe_owner(error.owner)}. Nothing in it was changed. "
        f"{error.advice.replace('another folder', 'another --out')}"
    )


def _previous_run_error(path, previous):
    return RunError(
        f"The output folder {path!r} holds a previous run's files "
        f"({', '.join(previous)}). Give another --out, or "
        "--overwrite (overwrite=True in Python) to delete them first."
    )


def previous_files(out, outputs=None):
    """The names in `out` of a previous run: the files it writes
    (`files_written`) and the temporary files of those that a run left
    when it was killed, sorted."""
    outputs = FILE_DESCRIPTIONS if outputs is None else outputs
    partial = [
        name for name, target in partial_files(out).items() if target in outputs
    ]
    return sorted(files_written(out, outputs) + partial)


def run_metrics(config, data, test, epoch_seconds, fit_seconds, precision):
    """The contents of a run's metrics.json (less wall time and files).

    Args:
        config: the run's `Config`.
        data: its `Data`.
        test: dict. `kvae.evaluation.evaluate`'s result.
        epoch_seconds: list of float. Seconds per epoch (`TrainTimer`).
        fit_seconds: float. Seconds `fit` took.
        precision: `(policy, reason)`, what `kvae.precision.resolve_policy`
            made of `config.precision`: recorded as `precision` (the
            policy trained in) and `precision_reason` (why, for "auto").
    """
    epochs = epoch_seconds
    # The first epoch includes compilation (JAX, TF): leave it out.
    timed = epochs[1:] if len(epochs) > 1 else epochs
    epoch_s = statistics.median(timed) if timed else float("nan")
    train_split, test_split = config.splits
    metrics = {
        "recipe": config.name,
        "dataset": config.dataset,
        "train_split": train_split,
        "test_split": test_split,
        "train_examples": data.num_train,
        "test_examples": len(data.x_test),
        "binarized": bool(config.binarize),
        "likelihood": config.likelihood,
        # The prior's level (the top one of a ladder), and every level.
        "latent_dim": latent_sizes(config)[-1],
        "level_dims": list(latent_sizes(config)),
        "epochs": config.epochs,
        # Its bounds are then on -log p(x | y).
        "conditional": config.conditional,
        "batch_size": config.batch_size,
        "seed": config.seed,
        "precision": precision[0],
        "precision_reason": precision[1],
        **test,
        "train_img_per_s": data.num_train / epoch_s,
        "epoch_s": epoch_s,
        "first_epoch_s": epochs[0] if epochs else float("nan"),
        "epoch_seconds": epochs,
        "fit_time_s": fit_seconds,
        **environment(),
        # Settings the model does not use are recorded as None, and named.
        "config": {
            **dataclasses.asdict(config),
            **dict.fromkeys(not_applying(config)),
        },
        "not_applying": not_applying(config),
    }
    if config.likelihood == "gaussian":
        # 8-bit images scaled to [0, 1]: each value stands for a bin of
        # width 1/255, so -log P(bin) ~= -log p(x) + log 255 per value.
        pixels = math.prod(data.image_shape)
        for key in ("negative_elbo", "iwae_nll"):
            if key in test:
                metrics[f"{key}_bits_per_dim"] = (
                    test[key] + pixels * math.log(255.0)
                ) / (pixels * math.log(2.0))
    return metrics


def files_written(out, outputs=None):
    """The names in `out` that a run writes (`outputs`, by default
    `FILE_DESCRIPTIONS`), sorted."""
    outputs = FILE_DESCRIPTIONS if outputs is None else outputs
    return sorted(f for f in os.listdir(out) if f in outputs)


def summary_text(out, metrics):
    """Where everything went, and the headline numbers."""
    lines = [f"\nWrote {os.path.abspath(out)}:"]
    width = max(len(f) for f in metrics["files"])
    for name in metrics["files"]:
        lines.append(f"  {name:<{width}}  {FILE_DESCRIPTIONS[name]}")
    lines.append("")
    # A conditional model's bounds are on -log p(x | y).
    x = "x | y" if metrics.get("conditional") else "x"
    lines.append(
        f"Test ({metrics['test_examples']} images): "
        f"-ELBO {metrics['negative_elbo']:.2f} nats"
        + (
            f", -log p({x}) <= {metrics['iwae_nll']:.2f} nats (IWAE, "
            f"k={metrics['iwae_samples']}, {metrics['iwae_examples']} images)"
            if "iwae_nll" in metrics
            else ""
        )
    )
    if "ssim" in metrics:
        lines.append(
            f"  MSE {metrics['mse']:.4f}, SSIM {metrics['ssim']:.3f}, "
            f"PSNR {metrics['psnr']:.2f} dB"
        )
    if "generation" in metrics:
        lines += generation_summary(metrics["generation"])
    if "label_accuracy" in metrics:
        lines.append(
            f"Samples of the requested class: "
            f"{metrics['label_accuracy']['accuracy']:.1%} (feature model)"
        )
    lines.append(
        f"Speed: {metrics['train_img_per_s']:.0f} train img/s "
        f"({metrics['backend']}, {metrics['device']}); wall time "
        f"{metrics['wall_time_s']:.0f} s."
    )
    return "\n".join(lines)


def markdown_table(rows, columns):
    """A markdown table; `columns` is `(key, header, format)` triples."""
    lines = [
        "| " + " | ".join(header for _, header, _ in columns) + " |",
        "|" + "|".join("---:" for _ in columns) + "|",
    ]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            if value is None or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                cells.append("n/a")
            elif isinstance(value, str):
                cells.append(value)
            else:
                cells.append(fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_model(model, path):
    """`model.save(path)`, atomically (Keras needs the `.keras` suffix)."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


# With more classes than tab10 has colours, a few are coloured and the rest
# drawn grey: a hundred hues cannot be told apart.
MAX_COLOURED_CLASSES = 10
DEFAULT_HIGHLIGHTS = 6
# Images encoded at a time: 8,580 Stanford Dogs at once need gigabytes.
_ENCODE_BATCH = 256


def plot_latent_pca(
    model,
    images,
    labels,
    path,
    class_names=None,
    highlight=None,
    thumbnails=40,
):
    """Writes a PNG of the codes of `images` on their two principal axes.

    Each image's posterior mean is projected on the principal axes of all
    of them, and `thumbnails` of the images are drawn at their points.
    With at most 10 classes every point is coloured by its class, and the
    legend names them all. With more (120 dog breeds), only the classes of
    `highlight` are coloured and named in the legend, by default the 6
    with the most images here; the other points are small and grey. The
    file is written atomically; `train_and_evaluate` draws it as
    `latent_pca.png` when `Config.plots` holds "latent_pca".

    Args:
        model: a `kvae.VAE` (or any model with `encode`).
        images: NumPy array `(n, height, width, channels)`.
        labels: int array `(n,)`, the class of each image.
        path: str. The PNG to write.
        class_names: sequence of str or `None`. The name of each label
            (`kvae.datasets.load(...).class_names`, or `load_test_split`'s);
            `None` names a class by its label.
        highlight: sequence of str or `None`. Class names to colour, at
            most 10, in legend order.
        thumbnails: int. How many images to draw at their points.

    Returns:
        The `matplotlib.figure.Figure` written.

    Raises:
        ValueError: a label without a class name, a `highlight` name that
            is not a class of these images, or more than 10 of them.

    Example:

    Redrawing the plot of a saved run (here Stanford Dogs), on the test
    images the run used:

    ```python
    import keras
    from kvae import experiment

    config = experiment.Config(
        dataset="stanford_dogs", manual_dir="data/stanford_dogs"
    )
    x, y, names = experiment.load_test_split(config)
    model = keras.saving.load_model("runs/dogs/model.keras")
    experiment.plot_latent_pca(
        model, x, y, "runs/dogs/latent_pca.png", class_names=names
    )
    ```
    """
    figure = latent_pca_figure(
        model,
        images,
        labels,
        class_names=class_names,
        highlight=highlight,
        thumbnails=thumbnails,
    )
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return figure


def latent_pca_figure(
    model, images, labels, class_names=None, highlight=None, thumbnails=40
):
    """The figure that `plot_latent_pca` writes (same arguments, less
    `path`), a `matplotlib.figure.Figure` to show or inspect."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.offsetbox import AnnotationBbox
    from matplotlib.offsetbox import OffsetImage

    images = np.asarray(images)
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(
            f"labels must be one int per image, shape ({len(images)},); "
            f"got shape {labels.shape}."
        )
    names = _class_names(labels, class_names)
    coloured = _coloured_classes(labels, names, highlight)
    z = np.concatenate(
        [
            keras.ops.convert_to_numpy(model.encode(batch)[0])
            for batch in np.array_split(
                images, max(1, math.ceil(len(images) / _ENCODE_BATCH))
            )
        ]
    ).astype("float32")
    if z.shape[1] >= 2:
        basis = pca_basis(z)
        points = (z - z.mean(axis=0)) @ basis
        axes_names = (f"PC 1 of {z.shape[1]}-D z", f"PC 2 of {z.shape[1]}-D z")
    else:
        points = np.concatenate([z, np.zeros_like(z)], axis=1)
        axes_names = ("z", "")
    figure = Figure(figsize=(8.6, 6.0), dpi=100)
    ax = figure.add_subplot(1, 1, 1)
    palette = colormaps["tab10"].colors
    colour_of = {label: palette[i] for i, label in enumerate(coloured)}
    shown = np.isin(labels, coloured)
    if not shown.all():
        ax.scatter(
            points[~shown, 0],
            points[~shown, 1],
            s=4,
            color="#c8c8c8",
            linewidths=0,
        )
    # A fixed random order, so that no class hides the others by being
    # drawn last. A few highlighted classes are drawn over the thumbnails
    # (zorder 3), outlined, so that no photo hides them.
    order = np.random.default_rng(0).permutation(np.flatnonzero(shown))
    few = not shown.all()
    ax.scatter(
        points[order, 0],
        points[order, 1],
        c=[colour_of[label] for label in labels[order]],
        s=16 if few else 8,
        alpha=0.9 if few else 0.6,
        edgecolors="white",
        linewidths=0.4 if few else 0,
        zorder=4 if few else 1,
    )
    chosen = np.random.default_rng(0).permutation(len(images))[:thumbnails]
    zoom = 32.0 / max(images.shape[1:3])
    for i in chosen:
        picture = np.clip(images[i], 0.0, 1.0)
        if picture.shape[-1] == 1:
            picture = picture[..., 0]
        box = AnnotationBbox(
            OffsetImage(picture, zoom=zoom, cmap="gray"),
            points[i],
            frameon=False,
        )
        ax.add_artist(box)
    handles = [
        legend_dot(colour_of[label], names[label], size=6) for label in coloured
    ]
    classes = len(names)
    ax.legend(
        handles=handles,
        title=(
            None
            if shown.all()
            else f"{len(coloured)} of {classes} classes\n(others grey)"
        ),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
        title_fontsize=9,
        handletextpad=0.2,
    )
    ax.set_xlabel(axes_names[0])
    ax.set_ylabel(axes_names[1])
    ax.set_title(f"latent space, PCA of {len(images)} test images")
    ax.grid(True, color="#e6e6e6", linewidth=0.6)
    figure.subplots_adjust(left=0.08, right=0.75, bottom=0.09, top=0.93)
    return figure


def _class_names(labels, class_names):
    """`{label: name}` for every label in `labels`."""
    present = np.unique(labels)
    if class_names is None:
        return {label: str(label) for label in present}
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            "With class_names, labels must be ints indexing them; got "
            f"labels of dtype {labels.dtype}."
        )
    if present[0] < 0 or present[-1] >= len(class_names):
        raise ValueError(
            f"class_names has {len(class_names)} names, but the labels go "
            f"from {present[0]} to {present[-1]}: give one name per class."
        )
    return {label: str(class_names[label]) for label in present}


def _coloured_classes(labels, names, highlight):
    """The labels to colour, in legend order."""
    if highlight is None:
        if len(names) <= MAX_COLOURED_CLASSES:
            return list(names)
        counts = {label: int(np.sum(labels == label)) for label in names}
        # The largest first; equal sizes in label order.
        ranked = sorted(names, key=lambda label: (-counts[label], label))
        return ranked[:DEFAULT_HIGHLIGHTS]
    if isinstance(highlight, str):
        highlight = [highlight]
    highlight = list(highlight)
    if not 1 <= len(highlight) <= MAX_COLOURED_CLASSES:
        raise ValueError(
            f"highlight names 1 to {MAX_COLOURED_CLASSES} classes to colour "
            f"(tab10 has 10 colours); got {len(highlight)}."
        )
    label_of = {name: label for label, name in names.items()}
    unknown = [name for name in highlight if name not in label_of]
    if unknown:
        known = ", ".join(repr(n) for n in list(label_of)[:8])
        raise ValueError(
            f"highlight names {unknown}, which no image here has. The "
            f"classes of these images are {len(label_of)} names such as "
            f"{known}."
        )
    return [label_of[name] for name in dict.fromkeys(highlight)]
