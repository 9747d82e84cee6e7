"""`Config`: everything a recipe run depends on, one field per setting.

Each field carries, next to its default, its help text, how a command-line
string becomes its value (`parse`) and what values it accepts (`choices`,
`check`). `Config.__post_init__` validates every field with them, and the
command line (`kvae.experiment.flags`) is derived from them: adding a field
here adds its flag, its help and its validation.
"""

import dataclasses
import math
import numbers
import os
import re

from kvae import datasets
from kvae import distribution
from kvae import priors
from kvae.vae import VAE

# The folder route (`--images DIR`) is one split, "train", in a fixed
# shuffled order: these slices are the default train/test split of it.
FOLDER_SPLITS = ("train[:90%]", "train[90%:]")
GIFS = ("reconstructions", "samples", "interpolation", "latent_space")
PLOTS = ("metrics", "latent_pca")
RGB_NAMES = tuple(
    n for n in datasets.NAMES if n not in datasets.GRAYSCALE_NAMES
)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive(value):
    if not _is_int(value) or value < 1:
        raise ValueError(f"must be a positive int, got {value!r}")


def _non_negative(value):
    if not _is_int(value) or value < 0:
        raise ValueError(f"must be an int >= 0, got {value!r}")


_SIGMA_NAMES = ("learned", "optimal")


def _sigma(value):
    if value not in _SIGMA_NAMES and not (
        isinstance(value, (int, float)) and math.isfinite(value) and value > 0
    ):
        raise ValueError(
            f"must be a positive number, 'learned' or 'optimal', got {value!r}"
        )


def _positive_float(value):
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"must be a positive, finite number, got {value!r}")


def _finite_non_negative(value):
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"must be a finite number >= 0, got {value!r}")


# Seeds go to NumPy and the backends, which take unsigned 32-bit ints.
_MAX_SEED = 2**32 - 1


def _seed(value):
    if not _is_int(value) or not 0 <= value <= _MAX_SEED:
        raise ValueError(
            f"must be an int in [0, {_MAX_SEED}], got {value!r}"
        )


# One part of a tensorflow-datasets split string: a name, optionally sliced
# by examples or percent ("train", "test[:8000]", "train[90%:]",
# "train[-1000:]"); parts are joined by "+". The slice is checked against
# the split's size when the data is loaded.
_BOUND = r"-?\d+%?"
_SPLIT_PART = re.compile(
    rf"^\s*\w+(\[({_BOUND})?:({_BOUND})?\]|\[-?\d+\])?\s*$"
)


def _split(value):
    if not isinstance(value, str) or not all(
        _SPLIT_PART.match(part) for part in value.split("+")
    ):
        raise ValueError(
            f"is not a split string, got {value!r}; write it as "
            "tensorflow-datasets does: 'train', 'test[:8000]', "
            "'train[:90%]', 'train[90%:]', 'train+test'"
        )


def _out(value):
    if os.path.isfile(value):
        raise ValueError(
            f"must be a folder, but {value!r} is an existing file; choose "
            "another --out"
        )


def _parse_sigma(text):
    return text if text in _SIGMA_NAMES else float(text)


def option(default, help, parse=str, nargs=None, choices=None, check=None):
    """A `Config` field: its default and how it is set and checked.

    Args:
        default: the field's default value.
        help: str. What the field means; the flag's help text and the
            field's line in `Config`'s docstring.
        parse: callable. Turns one command-line string into a value (or
            one element of a tuple field); `bool` makes a
            `--flag/--no-flag` pair.
        nargs: `None`, "+", "*" or an int. Tuple fields take several
            values after their flag.
        choices: tuple or `None`. The allowed values (of each element, for
            a tuple field).
        check: callable or `None`. Raises `ValueError` for a bad value (or
            element); `None` values are not checked.
    """
    metadata = {
        "help": help,
        "parse": parse,
        "nargs": nargs,
        "choices": choices,
        "check": check,
    }
    return dataclasses.field(default=default, metadata=metadata)


_COUNT = {"parse": int, "check": _positive}


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything a recipe run depends on; every field is also a flag.

    A recipe writes its own `Config(...)`; `kvae.experiment.parse_args`
    overrides any field from the command line (`--batch-size 64` sets
    `batch_size`; `none` sets an optional field to `None`; `--help` lists
    them all). Invalid values raise `ValueError` here, whether they come
    from Python or from a flag.

    Example:

    ```python
    config = kvae.experiment.Config(dataset="kmnist", latent_dim=16)
    ```
    """

    name: str = option("experiment", "The recipe's name, in messages.")
    dataset: str = option(
        "mnist",
        "A kvae.datasets.load name; 'images' is a folder (see --images).",
        choices=datasets.NAMES,
    )
    out: str = option(
        "runs/experiment",
        "Output folder. A folder holding another run's files is refused "
        "unless --overwrite is given.",
        check=_out,
    )
    overwrite: bool = option(
        False,
        "Delete the files of a previous run in --out before training, "
        "instead of refusing to start.",
        parse=bool,
    )
    model: str = option(
        "conv",
        "'conv' (ConvEncoder/ConvDecoder), 'residual' "
        "(ResidualEncoder/ResidualDecoder) or 'ladder' (a HierarchicalVAE "
        "of LadderEncoder/LadderDecoder with --level-dims).",
        choices=("conv", "residual", "ladder"),
    )
    likelihood: str = option(
        "bernoulli",
        "Decoder likelihood.",
        choices=("bernoulli", "gaussian"),
    )
    sigma: object = option(
        1.0,
        "Standard deviation of the Gaussian likelihood: a number, "
        "'learned', or 'optimal' (each batch's RMS error, see kvae.VAE).",
        parse=_parse_sigma,
        check=_sigma,
    )
    latent_dim: int = option(16, "Size of the latent code.", **_COUNT)
    latent_dims: tuple | None = option(
        None,
        "Latent sizes of a latent-size study (run_latent_study), one run "
        "each; --latent-dim is then ignored.",
        nargs="+",
        **_COUNT,
    )
    level_dims: tuple = option(
        (32, 16),
        "Latent sizes of the levels of --model ladder, bottom first (one "
        "--filters entry each); --latent-dim is then ignored.",
        nargs="+",
        **_COUNT,
    )
    prior: str = option(
        "standard_normal",
        "The prior p(z) (kvae.priors).",
        choices=tuple(priors.PRIORS),
    )
    prior_components: int | None = option(
        None,
        "Components of a mixture_of_gaussians or vamp prior (None: the "
        "prior's default, 10 and 500).",
        **_COUNT,
    )
    objective: str = option(
        "elbo", "Training objective.", choices=VAE.OBJECTIVES
    )
    num_samples: int = option(
        1, "Latent samples per image and step (k of IWAE).", **_COUNT
    )
    free_bits: float = option(
        0.0,
        "KL floor in nats per latent dimension (ELBO only); 0 for none.",
        parse=float,
        check=_finite_non_negative,
    )
    filters: tuple = option(
        (32, 64),
        "Encoder filters per stage; the decoder mirrors them.",
        nargs="+",
        **_COUNT,
    )
    dense_units: int = option(
        128, "Hidden dense layer of the conv encoder/decoder.", **_COUNT
    )
    image_size: int | None = option(
        None,
        "Side of the square RGB images (None: 64); MNIST and KMNIST keep 28.",
        **_COUNT,
    )
    epochs: int = option(10, "Training epochs.", **_COUNT)
    batch_size: int = option(128, "Training batch size.", **_COUNT)
    optimizer: str = option(
        "adam", "'adam' or 'adamw'.", choices=("adam", "adamw")
    )
    learning_rate: float = option(
        1e-3, "Initial learning rate.", parse=float, check=_positive_float
    )
    final_learning_rate: float | None = option(
        None,
        "If set, the learning rate follows a cosine decay to this value "
        "over the whole run.",
        parse=float,
        check=_finite_non_negative,
    )
    weight_decay: float = option(
        0.0,
        "AdamW's decoupled weight decay.",
        parse=float,
        check=_finite_non_negative,
    )
    global_clipnorm: float | None = option(
        None,
        "Clip the gradients to this global norm.",
        parse=float,
        check=_positive_float,
    )
    beta: float = option(
        1.0,
        "Weight of the KL term.",
        parse=float,
        check=_finite_non_negative,
    )
    seed: int = option(
        0,
        "Seeds Python, NumPy, the backend and the model.",
        parse=int,
        check=_seed,
    )
    manual_dir: str | None = option(
        None, "Folder holding the dataset's original files (offline use)."
    )
    images: str | None = option(
        None,
        "Train on a folder of your own images instead of the RGB dataset "
        "(sets dataset 'images'), e.g. ../shared/data/stanford_dogs_subset.",
    )
    train_split: str | None = option(
        None,
        "tfds split string of the training data, e.g. 'test[:9000]' "
        "(None: train, or train[:90%] for --images).",
        check=_split,
    )
    test_split: str | None = option(
        None,
        "tfds split string of the test data, e.g. 'test[9000:]' "
        "(None: test, or train[90%:] for --images).",
        check=_split,
    )
    max_train_examples: int | None = option(
        None, "Train on the first N images of the split only.", **_COUNT
    )
    max_test_examples: int | None = option(
        None, "Test on the first N images of the split only.", **_COUNT
    )
    binarize: str | None = option(
        None,
        "'dynamic' (MNIST and KMNIST): train on a new binary sample of "
        "each image every epoch and test on fixed binary samples, as "
        "published likelihoods are; None: grayscale.",
        choices=("dynamic",),
    )
    iwae_samples: int = option(
        1000,
        "Importance samples k of the NLL estimate; 0 skips it.",
        parse=int,
        check=_non_negative,
    )
    iwae_examples: int | None = option(
        1000,
        "Test images used by the NLL estimate, drawn at random with the "
        "seed (None: all).",
        **_COUNT,
    )
    gifs: tuple = option(
        ("reconstructions", "samples", "interpolation"),
        "GIFs drawn over training.",
        nargs="*",
        choices=GIFS,
    )
    plots: tuple = option(
        ("metrics",), "Plots drawn.", nargs="*", choices=PLOTS
    )
    tensorboard: bool = option(
        True,
        "Write TensorBoard logs into <out>/tensorboard: losses and image "
        "metrics per epoch, reconstruction and sample grids as images.",
        parse=bool,
    )
    reconstruction_grid: tuple = option(
        (2, 10), "Rows and columns of original images shown.", nargs=2, **_COUNT
    )
    sample_grid: int = option(
        8, "The sample GIF is sample_grid x sample_grid.", **_COUNT
    )
    interpolation_grid: tuple = option(
        (2, 4), "Rows and columns of interpolated pairs.", nargs=2, **_COUNT
    )
    interpolation_method: str = option(
        "linear",
        "Path between two codes.",
        choices=("linear", "spherical"),
    )
    interpolation_steps: int = option(
        10, "Points on each interpolation path.", **_COUNT
    )
    interpolation_scale: int | None = option(
        None,
        "Upscaling of the interpolation images (None: small images are "
        "enlarged to about 48 pixels).",
        **_COUNT,
    )
    verbose: int = option(
        1,
        "Keras's verbose for fit: 0 silent, 1 progress bar, 2 one line per "
        "epoch.",
        parse=int,
        choices=(0, 1, 2),
    )
    precision: str = option(
        "float32",
        "Keras dtype policy of the model: 'mixed_bfloat16' and "
        "'mixed_float16' compute in 16 bits with float32 weights (saved "
        "weights stay float32). bfloat16 pays on CPUs with AVX512-BF16 or "
        "AMX and on recent GPUs; measured per recipe in "
        "docs/BENCHMARKS.md.",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
    )
    distribute: str | None = option(
        None,
        "Train on several devices: 'data_parallel' (every backend; several "
        "processes under torchrun, TF_CONFIG or KERAS_DISTRIBUTION_*) or "
        "'model_parallel' (JAX); see docs/distribution.md.",
        choices=distribution.STRATEGIES,
    )

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _validate(field, getattr(self, field.name))
        if self.images is not None:
            if self.dataset in datasets.GRAYSCALE_NAMES:
                raise ValueError(
                    f"images (a folder of RGB images) replaces an RGB "
                    f"dataset {RGB_NAMES}, not {self.dataset!r}."
                )
            object.__setattr__(self, "dataset", "images")
        if self.prior_components is not None and self.prior not in (
            "mixture_of_gaussians",
            "vamp",
        ):
            raise ValueError(
                "prior_components sets the components of a "
                f"mixture_of_gaussians or vamp prior, not {self.prior!r}."
            )
        if self.binarize and self.dataset not in datasets.GRAYSCALE_NAMES:
            raise ValueError(
                f"binarize='dynamic' is for {datasets.GRAYSCALE_NAMES}, not "
                f"{self.dataset!r}."
            )

    @property
    def splits(self):
        """`(train_split, test_split)` with the defaults filled in."""
        folder = self.dataset == "images"
        train = self.train_split or (FOLDER_SPLITS[0] if folder else "train")
        test = self.test_split or (FOLDER_SPLITS[1] if folder else "test")
        return train, test


def _validate(field, value):
    """Raises `ValueError` naming `field` if `value` breaks its metadata."""
    meta = field.metadata
    if value is None:
        return
    values = value if meta["nargs"] is not None else (value,)
    if meta["nargs"] is not None and not isinstance(value, tuple):
        raise ValueError(
            f"{field.name} must be a tuple, got {type(value).__name__}."
        )
    if isinstance(meta["nargs"], int) and len(values) != meta["nargs"]:
        raise ValueError(
            f"{field.name} takes {meta['nargs']} values, got {value!r}."
        )
    for item in values:
        if meta["choices"] is not None and item not in meta["choices"]:
            raise ValueError(
                f"Unknown {field.name} {item!r}; choose from "
                f"{list(meta['choices'])}."
            )
        if meta["check"] is not None:
            try:
                meta["check"](item)
            except ValueError as error:
                raise ValueError(f"{field.name} {error}.") from None


def _field_docs():
    lines = ["", "    Args:"]
    for field in dataclasses.fields(Config):
        choices = field.metadata["choices"]
        among = f" One of {list(choices)}." if choices else ""
        lines.append(
            f"        {field.name}: {field.metadata['help']}{among} "
            f"Default: `{field.default!r}`."
        )
    return "\n".join(lines)


Config.__doc__ = Config.__doc__.rstrip() + "\n" + _field_docs()
