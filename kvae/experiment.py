"""The logic behind `recipes/`: flags, data, model, training and reports.

A recipe is a config block and a short `main`; everything it does is here,
importable and testable, in the spirit of flax's examples
(`train.train_and_evaluate(config, workdir)`):

```python
from kvae import experiment

CONFIG = experiment.Config(name="kmnist", dataset="kmnist", latent_dim=16)


def main(argv=None):
    config = experiment.parse_args(CONFIG, argv, description=__doc__)
    return experiment.train_and_evaluate(config)


if __name__ == "__main__":
    experiment.cli(main)
```

`train_and_evaluate` writes into `config.out`: `model.keras`,
`history.csv`, `metrics.json` (test -ELBO, importance-weighted NLL, MSE,
SSIM, PSNR, train img/s, times, versions), the GIFs and plots the config
asks for, and prints where everything went. Every file is written
atomically (a temporary file, then `os.replace`), so an interrupted run
never leaves a half-written one.
"""

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np

from kvae import callbacks as kvae_callbacks
from kvae import datasets
from kvae import distribution
from kvae import evaluation
from kvae import layers
from kvae.vae import VAE
from kvae.version import __version__

BACKENDS = ("tensorflow", "jax", "torch")
GRAYSCALE_DATASETS = ("mnist", "kmnist")
RGB_DATASETS = ("stanford_dogs", "images")
# The folder route (`--images DIR`) is one split, "train", in a fixed
# shuffled order: these slices are the default train/test split of it.
FOLDER_SPLITS = ("train[:90%]", "train[90%:]")
GIFS = ("reconstructions", "samples", "interpolation", "latent_space")
PLOTS = ("metrics", "latent_pca")

_FILE_DESCRIPTIONS = {
    "model.keras": "the trained model: keras.saving.load_model(path)",
    "history.csv": "losses and image metrics per epoch, train and test",
    "metrics.json": "final test metrics, speed, versions",
    "reconstructions.gif": "selected test images and their reconstructions",
    "samples.gif": "a fixed grid of latent codes decoded over training",
    "interpolation.gif": "latent interpolations between test images",
    "latent_space.gif": "test codes coloured by class over training",
    "metrics.png": "training curves: -ELBO, KL, MSE, SSIM, PSNR",
    "latent_pca.png": "test codes on their two principal axes",
}


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a recipe run depends on; the flags override fields.

    Args:
        name: str. The recipe's name, used in messages and metrics.json.
        dataset: str. A `kvae.datasets.load` name: "mnist", "kmnist",
            "stanford_dogs" or "images" (a folder, see `images`).
        out: str. Output folder.
        model: str. "conv" (`ConvEncoder`/`ConvDecoder`) or "residual"
            (`ResidualEncoder`/`ResidualDecoder`).
        likelihood: str. "bernoulli" or "gaussian".
        sigma: float or "learned". Gaussian likelihood's standard deviation.
        latent_dim: int. Size of the latent code.
        latent_dims: tuple of int or `None`. For a latent-size study
            (`run_latent_study`): one run per size; adds `--latent-dims`.
        filters: tuple of int. Encoder filters per stage; the decoder uses
            them in reverse.
        dense_units: int. Hidden dense layer of the conv encoder/decoder.
        image_size: int or `None`. Side of RGB images (64 by default);
            MNIST and KMNIST keep 28.
        epochs: int. Training epochs.
        batch_size: int. Training batch size.
        optimizer: str. "adam" or "adamw".
        learning_rate: float. Initial learning rate.
        final_learning_rate: float or `None`. If set, the learning rate
            follows a cosine decay to this value over the whole run.
        weight_decay: float. AdamW's decoupled weight decay.
        global_clipnorm: float or `None`. Clip the gradients to this
            global norm.
        beta: float. Weight of the KL term.
        seed: int. Seeds Python, NumPy, the backend and the model.
        manual_dir: str or `None`. Folder of original dataset files.
        images: str or `None`. A folder of images (dataset "images").
        train_split: str or `None`. tfds split string; `None` is "train"
            ("train[:90%]" for an image folder).
        test_split: str or `None`. tfds split string; `None` is "test"
            ("train[90%:]" for an image folder).
        max_train_examples: int or `None`. Keep the first N train images.
        max_test_examples: int or `None`. Keep the first N test images.
        binarize: str or `None`. `None`, or "dynamic" (MNIST and KMNIST):
            train on a new Bernoulli sample of each image every epoch and
            test on one fixed sample, the setting of published likelihoods.
        iwae_samples: int. `k` of the importance-weighted NLL; 0 skips it.
        iwae_examples: int or `None`. Test images it uses, drawn at
            random with `seed` (`None`: all).
        gifs: tuple of str. Among "reconstructions", "samples",
            "interpolation", "latent_space".
        plots: tuple of str. Among "metrics", "latent_pca".
        reconstruction_grid: `(rows, cols)` of original images shown.
        sample_grid: int. The sample GIF is `sample_grid` x `sample_grid`.
        interpolation_grid: `(rows, cols)` of interpolated pairs.
        interpolation_method: str. "linear" or "spherical".
        interpolation_steps: int. Points on each interpolation path.
        interpolation_scale: int or `None`. Upscaling of its images (by
            default small images are enlarged to about 48 pixels).
        verbose: int. Keras's `verbose` for `fit`: 1 shows a progress bar.
        distribute: str or `None`. A `kvae.distribution` strategy name;
            see `distribution_scope`.
    """

    name: str = "experiment"
    dataset: str = "mnist"
    out: str = "runs/experiment"
    model: str = "conv"
    likelihood: str = "bernoulli"
    sigma: object = 1.0
    latent_dim: int = 16
    latent_dims: tuple | None = None
    filters: tuple = (32, 64)
    dense_units: int = 128
    image_size: int | None = None
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    final_learning_rate: float | None = None
    weight_decay: float = 0.0
    global_clipnorm: float | None = None
    beta: float = 1.0
    seed: int = 0
    manual_dir: str | None = None
    images: str | None = None
    train_split: str | None = None
    test_split: str | None = None
    max_train_examples: int | None = None
    max_test_examples: int | None = None
    binarize: str | None = None
    iwae_samples: int = 1000
    iwae_examples: int | None = 1000
    gifs: tuple = ("reconstructions", "samples", "interpolation")
    plots: tuple = ("metrics",)
    reconstruction_grid: tuple = (2, 10)
    sample_grid: int = 8
    interpolation_grid: tuple = (2, 4)
    interpolation_method: str = "linear"
    interpolation_steps: int = 10
    interpolation_scale: int | None = None
    verbose: int = 1
    distribute: str | None = None

    def __post_init__(self):
        for name, allowed in (("gifs", GIFS), ("plots", PLOTS)):
            unknown = set(getattr(self, name)) - set(allowed)
            if unknown:
                raise ValueError(
                    f"Unknown {name} {sorted(unknown)}; choose from "
                    f"{list(allowed)}."
                )
        if self.model not in ("conv", "residual"):
            raise ValueError(
                f"model must be 'conv' or 'residual', got {self.model!r}."
            )
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError(
                f"optimizer must be 'adam' or 'adamw', got {self.optimizer!r}."
            )
        if self.binarize not in (None, "dynamic"):
            raise ValueError(
                f"binarize must be None or 'dynamic', got {self.binarize!r}."
            )
        if self.binarize and self.dataset not in GRAYSCALE_DATASETS:
            raise ValueError(
                f"binarize='dynamic' is for {GRAYSCALE_DATASETS}, not "
                f"{self.dataset!r}."
            )

    @property
    def splits(self):
        """`(train_split, test_split)` with the defaults filled in."""
        folder = self.dataset == "images"
        train = self.train_split or (FOLDER_SPLITS[0] if folder else "train")
        test = self.test_split or (FOLDER_SPLITS[1] if folder else "test")
        return train, test


# ----------------------------------------------------------------------
# Flags.
# ----------------------------------------------------------------------
def argument_parser(config, description=None):
    """The recipe flags, with `config`'s values as defaults.

    Every recipe has `--epochs --batch-size --latent-dim --out --seed
    --manual-dir --train-split --test-split --max-train-examples`, and more
    options below; `--images` appears for RGB datasets, `--binarize` for
    MNIST/KMNIST and `--latent-dims` for a latent-size study.
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--epochs", type=_positive, default=config.epochs, help="Epochs.")
    add("--batch-size", type=_positive, default=config.batch_size)
    add(
        "--latent-dim",
        type=_positive,
        default=config.latent_dim,
        help="Size of the latent code (default %(default)s).",
    )
    if config.latent_dims is not None:
        add(
            "--latent-dims",
            type=_positive,
            nargs="+",
            default=list(config.latent_dims),
            help="Latent sizes to train, one run each (default "
            "%(default)s); --latent-dim is then ignored.",
        )
    add("--out", default=config.out, help="Output folder (%(default)s).")
    add("--seed", type=int, default=config.seed)
    add(
        "--manual-dir",
        default=config.manual_dir,
        help="Folder holding the dataset's original files (offline use).",
    )
    add(
        "--train-split",
        default=config.train_split,
        help="tfds split string of the training data, e.g. 'test[:9000]' "
        "(default: train, or train[:90%%] for --images).",
    )
    add(
        "--test-split",
        default=config.test_split,
        help="tfds split string of the test data, e.g. 'test[9000:]' "
        "(default: test, or train[90%%:] for --images).",
    )
    add(
        "--max-train-examples",
        type=_positive,
        default=config.max_train_examples,
        help="Train on the first N images of the split only.",
    )
    add(
        "--max-test-examples",
        type=_positive,
        default=config.max_test_examples,
        help="Test on the first N images of the split only "
        "(default %(default)s).",
    )
    add(
        "--learning-rate",
        type=float,
        default=config.learning_rate,
        help="Initial learning rate (default %(default)s).",
    )
    add(
        "--filters",
        type=_positive,
        nargs="+",
        default=list(config.filters),
        help="Encoder filters per stage; the decoder mirrors them "
        "(default %(default)s).",
    )
    if config.dataset in RGB_DATASETS:
        add(
            "--images",
            default=config.images,
            help="Train on a folder of your own images instead of the tfds "
            "dataset (e.g. ../shared/data/stanford_dogs_subset).",
        )
        add(
            "--image-size",
            type=_positive,
            default=config.image_size,
            help="Side of the square RGB images (default 64).",
        )
    if config.likelihood == "gaussian":
        add(
            "--sigma",
            type=_sigma,
            default=config.sigma,
            help="Standard deviation of the Gaussian likelihood: a number, "
            "or 'learned' (default %(default)s).",
        )
    if config.dataset in GRAYSCALE_DATASETS:
        add(
            "--binarize",
            choices=("none", "dynamic"),
            default=config.binarize or "none",
            help="'dynamic': train on a new binary sample of each image "
            "every epoch and test on fixed binary samples, as published "
            "likelihoods are (default %(default)s: grayscale).",
        )
    add(
        "--iwae-samples",
        type=int,
        default=config.iwae_samples,
        help="Importance samples k of the NLL estimate; 0 skips it "
        "(default %(default)s).",
    )
    add(
        "--iwae-examples",
        type=_positive,
        default=config.iwae_examples,
        help="Test images used by the NLL estimate, drawn at random "
        "(default %(default)s).",
    )
    add(
        "--distribute",
        choices=distribution.STRATEGIES,
        default=config.distribute or "none",
        help="Train on several devices: 'data_parallel' (JAX or "
        "TensorFlow) or 'model_parallel' (JAX); see docs/distribution.md "
        "(default %(default)s).",
    )
    add(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=config.verbose,
        help="0 silent, 1 progress bar, 2 one line per epoch.",
    )
    return parser


def parse_args(config, argv=None, description=None):
    """`config` updated from the command line `argv` (default `sys.argv`)."""
    parser = argument_parser(config, description)
    return config_from_args(config, parser.parse_args(argv))


def config_from_args(config, args):
    """`config` with the fields named by the parsed `args` replaced."""
    values = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "latent_dim": args.latent_dim,
        "out": args.out,
        "seed": args.seed,
        "manual_dir": args.manual_dir,
        "train_split": args.train_split,
        "test_split": args.test_split,
        "max_train_examples": args.max_train_examples,
        "max_test_examples": args.max_test_examples,
        "learning_rate": args.learning_rate,
        "filters": tuple(args.filters),
        "iwae_samples": args.iwae_samples,
        "iwae_examples": args.iwae_examples,
        "verbose": args.verbose,
        "distribute": None if args.distribute == "none" else args.distribute,
    }
    if getattr(args, "latent_dims", None) is not None:
        values["latent_dims"] = tuple(args.latent_dims)
    if getattr(args, "binarize", None) is not None:
        values["binarize"] = None if args.binarize == "none" else args.binarize
    if getattr(args, "sigma", None) is not None:
        values["sigma"] = args.sigma
    if getattr(args, "image_size", None) is not None:
        values["image_size"] = args.image_size
    if getattr(args, "images", None):
        values["images"] = args.images
        values["dataset"] = "images"
    return dataclasses.replace(config, **values)


def _sigma(text):
    if text == "learned":
        return text
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int: {text}")
    return value


def cli(main, argv=None):
    """Runs a recipe's `main(argv)`, turning data errors into a message.

    A `kvae.datasets.DatasetError` (missing files, no network) says what
    to do; it is printed without a traceback and the exit status is 2.
    """
    try:
        main(sys.argv[1:] if argv is None else argv)
    except datasets.DatasetError as error:
        print(f"\nerror: {error}", file=sys.stderr)
        raise SystemExit(2) from None


# ----------------------------------------------------------------------
# Data.
# ----------------------------------------------------------------------
@dataclasses.dataclass
class Data:
    """The data of one run.

    Attributes:
        train: NumPy array of images, or a batched `tf.data.Dataset`.
        num_train: int. Training images per epoch.
        x_test: NumPy array of test images.
        y_test: NumPy array of test labels.
        image_shape: tuple. `(height, width, channels)`.
        class_names: list of str or `None`.
    """

    train: object
    num_train: int
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple
    class_names: list | None = None


def load_data(config):
    """Loads the train and test splits of `config` (see `Data`).

    MNIST and KMNIST are read into memory (`kvae.datasets.load_numpy`),
    except the training data with `binarize="dynamic"`, which is a
    `tf.data` pipeline drawing new binary images each epoch. RGB data is a
    `tf.data` pipeline (augmented) for training and an array for testing.

    Raises:
        kvae.datasets.DatasetError: the data cannot be found; for a
            missing training split, the message also says how to train on
            part of the test split instead.
    """
    train_split, test_split = config.splits
    if config.dataset in GRAYSCALE_DATASETS:
        return _load_grayscale(config, train_split, test_split)
    return _load_rgb(config, train_split, test_split)


def _load_grayscale(config, train_split, test_split):
    name = config.dataset
    try:
        if config.binarize == "dynamic":
            train = datasets.load(
                name,
                split=train_split,
                batch_size=config.batch_size,
                shuffle=True,
                seed=config.seed,
                binarize="dynamic",
                manual_dir=config.manual_dir,
                max_examples=config.max_train_examples,
            )
            num_train = _count_examples(train)
        else:
            train, _ = datasets.load_numpy(
                name,
                split=train_split,
                manual_dir=config.manual_dir,
                max_examples=config.max_train_examples,
            )
            num_train = len(train)
    except datasets.DatasetError as error:
        if not train_split.startswith("train"):
            raise
        raise datasets.DatasetError(
            f"{error}\n\n{_partial_data_hint(config, train_split)}"
        ) from None
    x_test, y_test = datasets.load_numpy(
        name,
        split=test_split,
        manual_dir=config.manual_dir,
        max_examples=config.max_test_examples,
        binarize="static" if config.binarize else None,
        seed=config.seed,
    )
    return Data(
        train=train,
        num_train=num_train,
        x_test=x_test,
        y_test=y_test,
        image_shape=tuple(x_test.shape[1:]),
        class_names=_class_names(name),
    )


def _partial_data_hint(config, train_split):
    folder = config.manual_dir or "DIR"
    return (
        f"The training split {train_split!r} could not be loaded. If its "
        "files are missing, put them in the folder given by --manual-dir; "
        "or, with the test split alone, train on part of it and test on "
        "the rest:\n"
        f"  python recipes/{config.name}.py --manual-dir {folder} "
        "--train-split 'test[:9000]' --test-split 'test[9000:]'"
    )


def _class_names(name):
    # Not returned by load_numpy; the catalog knows them.
    from kvae.datasets import _catalog

    spec = _catalog.DATASETS.get(name)
    names = getattr(spec, "class_names", None)
    return list(names) if names else None


def _load_rgb(config, train_split, test_split):
    common = dict(
        manual_dir=config.manual_dir,
        image_size=config.image_size,
        directory=config.images if config.dataset == "images" else None,
    )
    try:
        train = datasets.load(
            config.dataset,
            split=train_split,
            batch_size=config.batch_size,
            shuffle=True,
            seed=config.seed,
            max_examples=config.max_train_examples,
            **common,
        )
    except datasets.DatasetError as error:
        if config.dataset == "images":
            raise
        raise datasets.DatasetError(
            f"{error}\n\nOr train on a folder of images instead: "
            f"python recipes/{config.name}.py --images DIR"
        ) from None
    # The first pass counts the images and fills the pipeline's cache.
    num_train = _count_examples(train)
    test = datasets.load(
        config.dataset,
        split=test_split,
        batch_size=256,
        shuffle=False,
        augment=False,
        with_labels=True,
        max_examples=config.max_test_examples,
        **common,
    )
    xs, ys = [], []
    for x, y in test.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise datasets.DatasetError(
            f"The test split {test_split!r} of {config.dataset!r} is empty."
        )
    x_test = np.concatenate(xs)
    return Data(
        train=train,
        num_train=num_train,
        x_test=x_test,
        y_test=np.concatenate(ys),
        image_shape=tuple(x_test.shape[1:]),
        class_names=list(getattr(test, "class_names", None) or []) or None,
    )


def _count_examples(dataset):
    count = getattr(dataset, "num_examples", None)
    if count is not None:
        return int(count)
    count = 0
    for batch in dataset.as_numpy_iterator():
        images = batch[0] if isinstance(batch, tuple) else batch
        count += len(images)
    if not count:
        raise datasets.DatasetError("The training split holds no images.")
    return count


def select_examples(labels, count):
    """Indices of `count` examples taking the classes in turn.

    The first example of each class (in class order), then the second of
    each, ...: a grid of 10 columns shows one digit of each class per row.
    """
    labels = np.asarray(labels)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    picked = []
    for rank in range(max(len(g) for g in groups)):
        for group in groups:
            if rank < len(group):
                picked.append(int(group[rank]))
            if len(picked) == count:
                return np.asarray(picked)
    return np.asarray(picked)


# ----------------------------------------------------------------------
# Model.
# ----------------------------------------------------------------------
def build_model(config, image_shape):
    """The `kvae.VAE` of `config` for images of `image_shape`."""
    filters = tuple(config.filters)
    if config.model == "conv":
        encoder = layers.ConvEncoder(
            config.latent_dim, filters=filters, dense_units=config.dense_units
        )
        decoder = layers.ConvDecoder(
            image_shape, filters=filters[::-1], dense_units=config.dense_units
        )
    else:
        encoder = layers.ResidualEncoder(config.latent_dim, filters=filters)
        decoder = layers.ResidualDecoder(image_shape, filters=filters[::-1])
    return VAE(
        encoder,
        decoder,
        likelihood=config.likelihood,
        sigma=config.sigma,
        beta=config.beta,
        seed=config.seed,
    )


def build_optimizer(config, steps_per_epoch):
    """Adam or AdamW, with the cosine decay and clipping of `config`."""
    learning_rate = config.learning_rate
    if config.final_learning_rate is not None:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate,
            decay_steps=max(1, config.epochs * steps_per_epoch),
            alpha=config.final_learning_rate / config.learning_rate,
        )
    kwargs = {"learning_rate": learning_rate}
    if config.global_clipnorm is not None:
        kwargs["global_clipnorm"] = config.global_clipnorm
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(
            weight_decay=config.weight_decay, **kwargs
        )
    return keras.optimizers.Adam(**kwargs)


def distribution_scope(config):
    """The context in which the model and optimizer are created.

    `config.distribute` names a `kvae.distribution` strategy ("none",
    "data_parallel", "model_parallel"), as the `--distribute` flag sets
    it; `None` trains on one device. The strategy is created at once, so
    one that this backend lacks fails here; enter the returned context
    later, around the creation of the model.
    """
    return distribution.scope(distribution.get(config.distribute))


# ----------------------------------------------------------------------
# Callbacks.
# ----------------------------------------------------------------------
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


def make_callbacks(config, data, out):
    """The GIF and plot callbacks of `config`, writing into `out`."""
    images = data.x_test
    order = select_examples(data.y_test, len(images))
    shown = images[order]
    result = []
    if "reconstructions" in config.gifs:
        grid = _fit_grid(config.reconstruction_grid, len(shown))
        result.append(
            kvae_callbacks.ReconstructionGIF(shown, out, grid_size=grid)
        )
    if "samples" in config.gifs:
        result.append(
            kvae_callbacks.SampleGIF(
                out, grid_size=config.sample_grid, seed=config.seed
            )
        )
    if "interpolation" in config.gifs:
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
    if "latent_space" in config.gifs:
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
    return result


def _fit_grid(grid, available):
    """`grid` shrunk (rows first, then columns) to at most `available`."""
    rows, cols = grid
    if available < 1:
        raise ValueError("Not enough test images to draw a grid.")
    while rows * cols > available and rows > 1:
        rows -= 1
    return rows, min(cols, available)


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

    from kvae.callbacks.latent_space_gif import pca_basis

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
    with _atomic(path) as tmp:
        figure.savefig(tmp, format="png")


# ----------------------------------------------------------------------
# Writing files atomically.
# ----------------------------------------------------------------------
@contextlib.contextmanager
def _atomic(path, suffix=".tmp"):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix="." + os.path.basename(path) + ".", suffix=suffix
    )
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with _atomic(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path, obj):
    """Writes `obj` as JSON atomically; NaN and infinities become null."""
    write_text(path, json.dumps(_json_safe(obj), indent=2, allow_nan=False))


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def save_model(model, path):
    """`model.save(path)`, atomically (Keras needs the `.keras` suffix)."""
    with _atomic(path, suffix=".keras") as tmp:
        model.save(tmp)


# ----------------------------------------------------------------------
# Training and evaluation.
# ----------------------------------------------------------------------
def train_and_evaluate(config, announce=True):
    """Trains the model of `config`, evaluates it, and writes every file.

    Returns:
        dict: the contents of metrics.json, plus `history` (the Keras
        history dict).
    """
    start = time.perf_counter()
    keras.utils.set_random_seed(config.seed)
    # Resolved first: a strategy this backend lacks fails before any work.
    strategy_scope = distribution_scope(config)
    data = load_data(config)
    # Created once the data is found: a run that cannot start leaves none.
    out = _prepare_output(config.out)
    steps_per_epoch = math.ceil(data.num_train / config.batch_size)
    with strategy_scope:
        model = build_model(config, data.image_shape)
        model.compile(optimizer=build_optimizer(config, steps_per_epoch))
    timer = TrainTimer()
    history_path = os.path.join(out, "history.csv")
    history_tmp = os.path.join(out, ".history.csv.partial")
    fit_callbacks = [
        timer,
        keras.callbacks.CSVLogger(history_tmp),
        *make_callbacks(config, data, out),
    ]
    if announce:
        print(
            f"Training {config.name}: {data.num_train} training images "
            f"({config.dataset} {config.splits[0]}), {len(data.x_test)} test "
            f"images ({config.splits[1]}); latent {config.latent_dim}, "
            f"{config.epochs} epochs, backend {keras.backend.backend()}."
        )
    # Arrays are shuffled by fit; a tf.data pipeline shuffles itself.
    fit_kwargs = {"shuffle": False}
    if isinstance(data.train, np.ndarray):
        fit_kwargs = {"batch_size": config.batch_size, "shuffle": True}
    fit_start = time.perf_counter()
    try:
        history = model.fit(
            data.train,
            epochs=config.epochs,
            validation_data=(data.x_test,),
            validation_batch_size=config.batch_size,
            callbacks=fit_callbacks,
            verbose=config.verbose,
            **fit_kwargs,
        )
    finally:
        if os.path.exists(history_tmp):
            os.replace(history_tmp, history_path)
    fit_seconds = time.perf_counter() - fit_start

    if announce and config.iwae_samples:
        count = min(len(data.x_test), config.iwae_examples or len(data.x_test))
        print(
            f"Estimating -log p(x) with k={config.iwae_samples} importance "
            f"samples on {count} test images ({count * config.iwae_samples:,} "
            "decoder passes; --iwae-samples 0 skips this).",
            flush=True,
        )
    test = evaluation.evaluate(
        model,
        data.x_test,
        num_samples=config.iwae_samples,
        num_examples=config.iwae_examples,
        # The batch size of validation: the test step is compiled already.
        batch_size=config.batch_size,
        seed=config.seed,
        verbose=config.verbose if announce else 0,
    )
    save_model(model, os.path.join(out, "model.keras"))
    if "latent_pca" in config.plots:
        plot_latent_pca(
            model, data.x_test, data.y_test, os.path.join(out, "latent_pca.png")
        )
    metrics = _metrics(config, data, test, timer, fit_seconds)
    metrics["wall_time_s"] = time.perf_counter() - start
    metrics["files"] = sorted(set(_files_written(out)) | {"metrics.json"})
    write_json(os.path.join(out, "metrics.json"), metrics)
    if announce:
        print(summary_text(out, metrics))
    metrics["history"] = history.history
    return metrics


def _prepare_output(path):
    os.makedirs(path, exist_ok=True)
    return path


def _metrics(config, data, test, timer, fit_seconds):
    epochs = timer.epoch_seconds
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


def environment():
    """Backend, devices and versions, for metrics.json."""
    backend = keras.backend.backend()
    info = {
        "backend": backend,
        "backend_version": _version(backend),
        "kvae_version": __version__,
        "keras_version": keras.__version__,
        "python_version": platform.python_version(),
        "device": _device(backend),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
    }
    return info


def _version(module):
    return getattr(sys.modules.get(module), "__version__", None)


def _device(backend):
    try:
        if backend == "jax":
            import jax

            return str(jax.devices()[0].platform)
        if backend == "torch":
            import torch

            return "cuda" if torch.cuda.is_available() else "cpu"
        import tensorflow as tf

        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    except Exception:  # a report must not fail for a device query
        return "unknown"


def _files_written(out):
    return sorted(
        f
        for f in os.listdir(out)
        if f in _FILE_DESCRIPTIONS and os.path.isfile(os.path.join(out, f))
    )


def summary_text(out, metrics):
    """Where everything went, and the headline numbers."""
    lines = [f"\nWrote {os.path.abspath(out)}:"]
    width = max(len(f) for f in metrics["files"])
    for name in metrics["files"]:
        lines.append(f"  {name:<{width}}  {_FILE_DESCRIPTIONS[name]}")
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


# ----------------------------------------------------------------------
# A latent-size study (recipes/mnist.py).
# ----------------------------------------------------------------------
_SUMMARY_COLUMNS = (
    ("latent_dim", "latent", "{}"),
    ("negative_elbo", "test -ELBO (nats)", "{:.2f}"),
    ("iwae_nll", "IWAE NLL (nats)", "{:.2f}"),
    ("kl_loss", "KL (nats)", "{:.2f}"),
    ("mse", "MSE", "{:.4f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("psnr", "PSNR (dB)", "{:.2f}"),
    ("train_img_per_s", "train img/s", "{:.0f}"),
    ("wall_time_s", "wall s", "{:.0f}"),
)


def run_latent_study(config):
    """Trains one model per size in `config.latent_dims`.

    Each run writes its files into `<out>/latent_<d>/`; then `<out>` gets
    `summary.md` (a table comparing the sizes), `comparison.png` (test
    -ELBO, MSE, SSIM and PSNR per epoch, one line per size) and
    `metrics.json` (every run's metrics).

    Returns:
        list of dicts: each run's metrics.
    """
    out = config.out
    sizes = config.latent_dims or (config.latent_dim,)
    runs = []
    for latent_dim in sizes:
        run_config = dataclasses.replace(
            config,
            latent_dim=latent_dim,
            out=os.path.join(out, f"latent_{latent_dim}"),
        )
        runs.append(train_and_evaluate(run_config))
    histories = {m["latent_dim"]: m.pop("history") for m in runs}
    table = markdown_table(runs, _SUMMARY_COLUMNS)
    k = runs[0].get("iwae_samples")
    notes = (
        f"# {config.name}: latent sizes {', '.join(map(str, sizes))}\n\n"
        f"{runs[0]['train_examples']} training images "
        f"({runs[0]['train_split']}), {config.epochs} epochs, batch "
        f"{config.batch_size}; test on {runs[0]['test_examples']} images "
        f"({runs[0]['test_split']}). IWAE NLL with k={k} importance "
        f"samples on {runs[0].get('iwae_examples')} test images drawn at "
        "random. "
        f"Backend {runs[0]['backend']} ({runs[0]['device']}).\n\n"
    )
    write_text(os.path.join(out, "summary.md"), notes + table + "\n")
    plot_comparison(histories, os.path.join(out, "comparison.png"))
    write_json(
        os.path.join(out, "metrics.json"),
        {"recipe": config.name, "latent_dims": list(sizes), "runs": runs},
    )
    print(f"\nWrote {os.path.abspath(out)}:")
    for d in sizes:
        print(f"  latent_{d}/       the run with latent size {d}")
    print("  summary.md       the table below")
    print("  comparison.png   test -ELBO, MSE, SSIM, PSNR per epoch by size")
    print("  metrics.json     every run's metrics\n")
    print(table)
    return runs


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


def plot_comparison(histories, path):
    """Train (solid) and test (dashed) curves of each run, by name."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    panels = (
        ("loss", "-ELBO (nats)"),
        ("mse", "MSE"),
        ("ssim", "SSIM"),
        ("psnr", "PSNR (dB)"),
    )
    figure = Figure(figsize=(12.0, 3.4), dpi=100)
    axes = figure.subplots(1, len(panels))
    colors = colormaps["tab10"].colors
    for ax, (key, title) in zip(axes, panels):
        for i, (name, history) in enumerate(histories.items()):
            color = colors[i % len(colors)]
            for prefix, style, label in (
                ("", "-", f"{name} train"),
                ("val_", "--", f"{name} test"),
            ):
                values = history.get(prefix + key)
                if values:
                    epochs = np.arange(1, len(values) + 1)
                    ax.plot(epochs, values, style, color=color, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(True, color="#e6e6e6", linewidth=0.6)
    axes[0].legend(fontsize=7, frameon=False, title="latent", title_fontsize=7)
    figure.subplots_adjust(
        left=0.05, right=0.99, bottom=0.15, top=0.88, wspace=0.3
    )
    with _atomic(path) as tmp:
        figure.savefig(tmp, format="png")


# ----------------------------------------------------------------------
# One recipe under each backend (recipes/compare_backends.py).
# ----------------------------------------------------------------------
_COMPARISON = (
    ("train_img_per_s", "train img/s", "{:.0f}"),
    ("epoch_s", "epoch s", "{:.2f}"),
    ("negative_elbo", "test -ELBO", "{:.2f}"),
    ("iwae_nll", "IWAE NLL", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("psnr", "PSNR (dB)", "{:.2f}"),
)


def backend_installed(backend):
    """Whether the package behind a Keras backend can be imported."""
    return importlib.util.find_spec(backend) is not None


def compare_backends(recipe, recipe_args, out, backends=BACKENDS):
    """Runs `recipe` under each backend, in a subprocess each, and compares.

    Each run is `python <recipe> <recipe_args> --out <out>/<backend>` with
    `KERAS_BACKEND=<backend>` (see `run_under_backend`). A backend whose
    package is not installed is reported as such, and a run that fails is
    reported with its exit status and log. Then `<out>` gets
    `comparison.md` (a table), `comparison.png` (bar charts) and
    `comparison.json` (see `write_comparison`).

    Args:
        recipe: str. Path of a recipe script.
        recipe_args: list of str. Its flags (not `--out`).
        out: str. Output folder.
        backends: sequence of str.

    Returns:
        list of dicts, one per backend: `backend`, `status` ("ok", "not
        installed", "failed (exit N), see <log>") and the run's metrics.
    """
    out = _prepare_output(out)
    rows = [
        run_under_backend(recipe, recipe_args, out, backend)
        for backend in backends
    ]
    name = os.path.basename(recipe)
    write_comparison(
        rows, out, title=name, command=f"{name} {' '.join(recipe_args)}"
    )
    for backend in backends:
        if os.path.isdir(os.path.join(out, backend)):
            print(f"  {backend}/, {backend}.log: that backend's run")
    return rows


def run_under_backend(recipe, recipe_args, out, backend):
    """Runs the recipe script in a subprocess with `KERAS_BACKEND=backend`.

    Its files go to `<out>/<backend>/` and its output to
    `<out>/<backend>.log`. Returns the row of `compare_backends`.
    """
    row = {"backend": backend}
    if not backend_installed(backend):
        row["status"] = "not installed"
        print(f"{backend}: not installed, skipped.")
        return row
    run_out = os.path.join(out, backend)
    log_path = os.path.join(out, f"{backend}.log")
    command = [sys.executable, recipe, *recipe_args, "--out", run_out]
    print(f"{backend}: {' '.join(command)}  (log: {log_path})", flush=True)
    env = dict(os.environ, KERAS_BACKEND=backend)
    started = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        returncode = subprocess.call(
            command, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    row["process_s"] = time.perf_counter() - started
    metrics_path = os.path.join(run_out, "metrics.json")
    if returncode != 0 or not os.path.exists(metrics_path):
        row["status"] = f"failed (exit {returncode}), see {log_path}"
        print(f"{backend}: {row['status']}")
        return row
    with open(metrics_path, encoding="utf-8") as f:
        row.update(json.load(f))
    row["status"] = "ok"
    print(
        f"{backend}: done, {row['train_img_per_s']:.0f} img/s, "
        f"-ELBO {row['negative_elbo']:.2f}"
    )
    return row


def write_comparison(rows, out, title, command=None):
    """Writes comparison.md, comparison.png and comparison.json of `rows`
    (one dict per backend: `backend`, `status` and a run's metrics) into
    `out`, prints the table, and returns it."""
    columns = (("backend", "backend", "{}"),) + _COMPARISON
    columns += (("status", "status", "{}"),)
    ok = [r for r in rows if r.get("status") == "ok"]
    header = f"# {title} under each Keras backend\n\n"
    if command:
        header += f"Command: `{command}`. "
    header += f"kvae {__version__}, keras {keras.__version__}"
    if ok:
        header += (
            f"; {ok[0]['train_examples']} train images, {ok[0]['epochs']} "
            f"epochs, test on {ok[0]['test_examples']} images"
        )
    header += (
        ". img/s and epoch time are medians over the epochs after the "
        "first (which compiles).\n\n"
    )
    table = markdown_table(rows, columns)
    write_text(os.path.join(out, "comparison.md"), header + table + "\n")
    plot_backend_bars(rows, os.path.join(out, "comparison.png"))
    write_json(os.path.join(out, "comparison.json"), rows)
    print(f"\n{table}\n\nWrote {os.path.abspath(out)}:")
    print("  comparison.md    the table above")
    print("  comparison.png   bar charts of the same numbers")
    print("  comparison.json  every backend's metrics")
    return table


def plot_backend_bars(rows, path):
    """One bar chart per number in `_COMPARISON`, one bar per backend."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12.0, 6.0), dpi=100)
    axes = figure.subplots(2, 3).ravel()
    names = [r["backend"] for r in rows]
    colors = {"tensorflow": "#ff8f00", "jax": "#5e97f6", "torch": "#ee4c2c"}
    for ax, (key, title, fmt) in zip(axes, _COMPARISON):
        values = [r.get(key) for r in rows]
        heights = [v if isinstance(v, (int, float)) else 0.0 for v in values]
        bars = ax.bar(
            names,
            heights,
            color=[colors.get(n, "#888888") for n in names],
        )
        for bar, value, row in zip(bars, values, rows):
            text = (
                fmt.format(value)
                if isinstance(value, (int, float))
                else row["status"].split(",")[0]
            )
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_title(title, fontsize=10)
        ax.tick_params(labelsize=8)
        ax.margins(y=0.15)
    figure.subplots_adjust(
        left=0.06, right=0.98, bottom=0.06, top=0.93, hspace=0.35
    )
    with _atomic(path) as tmp:
        figure.savefig(tmp, format="png")
