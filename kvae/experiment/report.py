"""What a run reports: metrics.json, the summary it prints, the PCA plot
of the latent space, the saved model and markdown tables."""

import dataclasses
import math
import os
import shutil
import statistics

import keras
import numpy as np

from kvae.experiment.errors import RunError
from kvae.utils import atomic_path
from kvae.utils import environment
from kvae.utils import pca_basis
from kvae.utils.files import remove_partial_files

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
}


def prepare_output(path, overwrite=False):
    """Makes `path` a writable folder that holds no other run's files.

    The folder (and its parents) is created if needed. Temporary files a
    killed run left (see `kvae.utils.files`) are deleted. A folder that
    holds files of a previous run (`FILE_DESCRIPTIONS`) is refused, so
    that it never mixes two runs, unless `overwrite` is true: those files
    are then deleted first. Other files are left alone.

    Returns:
        list of str: the names of the previous run's files deleted.

    Raises:
        RunError: the folder holds a previous run and `overwrite` is
            false, or it cannot be written.
    """
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise RunError(
            f"Cannot create the output folder {path!r}: {error.strerror}. "
            "Choose another --out."
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunError(
            f"The output folder {path!r} is not writable. Choose another "
            "--out or change its permissions."
        )
    remove_partial_files(path)
    previous = files_written(path)
    if previous and not overwrite:
        raise RunError(
            f"The output folder {path!r} holds a previous run's files "
            f"({', '.join(previous)}). Give another --out, or --overwrite "
            "to delete them and train again (Config(overwrite=True))."
        )
    for name in previous:
        target = os.path.join(path, name)
        if os.path.isdir(target):
            shutil.rmtree(target)
        else:
            os.remove(target)
    return previous


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
        "latent_dim": config.latent_dim,
        "epochs": config.epochs,
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
        "config": dataclasses.asdict(config),
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


def files_written(out):
    """The names in `out` that a run writes, sorted."""
    return sorted(
        f
        for f in os.listdir(out)
        if f in FILE_DESCRIPTIONS
    )


def summary_text(out, metrics):
    """Where everything went, and the headline numbers."""
    lines = [f"\nWrote {os.path.abspath(out)}:"]
    width = max(len(f) for f in metrics["files"])
    for name in metrics["files"]:
        lines.append(f"  {name:<{width}}  {FILE_DESCRIPTIONS[name]}")
    lines.append("")
    lines.append(
        f"Test ({metrics['test_examples']} images): "
        f"-ELBO {metrics['negative_elbo']:.2f} nats"
        + (
            f", -log p(x) <= {metrics['iwae_nll']:.2f} nats (IWAE, "
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


def plot_latent_pca(model, images, labels, path, thumbnails=40):
    """A PNG of the codes of `images` on their two principal axes.

    Each image's posterior mean is projected on the principal axes of all
    of them; points are coloured by label, and `thumbnails` of the images
    are drawn at their points.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.offsetbox import AnnotationBbox
    from matplotlib.offsetbox import OffsetImage

    z_mean, _ = model.encode(images)
    z = np.asarray(keras.ops.convert_to_numpy(z_mean))
    if z.shape[1] >= 2:
        basis = pca_basis(z)
        points = (z - z.mean(axis=0)) @ basis
        axes_names = (f"PC 1 of {z.shape[1]}-D z", f"PC 2 of {z.shape[1]}-D z")
    else:
        points = np.concatenate([z, np.zeros_like(z)], axis=1)
        axes_names = ("z", "")
    figure = Figure(figsize=(7.0, 6.0), dpi=100)
    ax = figure.add_subplot(1, 1, 1)
    classes, index = np.unique(np.asarray(labels), return_inverse=True)
    colors = colormaps["viridis"](np.linspace(0, 1, max(len(classes), 2)))
    ax.scatter(points[:, 0], points[:, 1], c=colors[index], s=8, alpha=0.6)
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
    ax.set_xlabel(axes_names[0])
    ax.set_ylabel(axes_names[1])
    ax.set_title(f"latent space, PCA of {len(images)} test images")
    ax.grid(True, color="#e6e6e6", linewidth=0.6)
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.09, top=0.93)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
