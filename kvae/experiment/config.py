"""`Config`: everything a recipe run depends on, one field per setting.

Each field carries, next to its default, its help text, how a command-line
string becomes its value (`parse`) and what values it accepts (`choices`,
`check`). `Config.__post_init__` validates every field with them, and the
command line (`kvae.experiment.flags`) is derived from them: adding a field
here adds its flag, its help and its validation.
"""

import dataclasses

from kvae import datasets
from kvae import distribution
from kvae import precision
from kvae import priors
from kvae import samplers
from kvae.experiment import options
from kvae.experiment.combinations import check_combinations
from kvae.experiment.options import option
from kvae.layers.bottleneck_block import BLOCK_ACTIVATIONS
from kvae.samplers.sampler import LEVELS
from kvae.vae import VAE

# The folder route (`--images DIR`) is one split, "train", in a fixed
# shuffled order: these slices are the default train/test split of it.
FOLDER_SPLITS = ("train[:90%]", "train[90%:]")
GIFS = ("reconstructions", "samples", "interpolation", "latent_space")
PLOTS = ("metrics", "latent_pca")
PRECISIONS = ("auto", *precision.POLICIES)
RGB_NAMES = tuple(
    n for n in datasets.NAMES if n not in datasets.GRAYSCALE_NAMES
)


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
    from kvae import experiment  # not imported by `import kvae`

    config = experiment.Config(dataset="kmnist", latent_dim=16)
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
        check=options.out,
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
        "(ResidualEncoder/ResidualDecoder) or 'hierarchical' (a "
        "HierarchicalVAE: spatial latent groups at --resolutions).",
        choices=("conv", "residual", "hierarchical"),
    )
    conditional: bool = option(
        False,
        "Train a kvae.ConditionalVAE on (images, labels): the encoder and "
        "decoder see the class. The run then draws class_grid.gif (one row "
        "per class) and style_transfer.png, its test -ELBO and NLL are of "
        "-log p(x | y), and --feature-model, if given, judges the classes "
        "of its samples (label_accuracy in metrics.json).",
        parse=bool,
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
        parse=options.parse_sigma,
        check=options.sigma,
    )
    latent_dim: int = option(16, "Size of the latent code.", **options.COUNT)
    latent_dims: tuple | None = option(
        None,
        "Latent sizes of a latent-size study (run_latent_study), one run "
        "each; --latent-dim is then ignored.",
        nargs="+",
        **options.COUNT,
    )
    resolutions: tuple | None = option(
        None,
        "Heights of the latent maps of --model hierarchical; none: chosen "
        "by the image size (28: 7 14; 64: 4 8 16).",
        nargs="+",
        **options.COUNT,
    )
    groups: tuple | None = option(
        None,
        "Latent groups per resolution of --model hierarchical; none: 2 "
        "at each resolution for 28x28 images, 1 2 2 for 64x64.",
        nargs="+",
        **options.COUNT,
    )
    latent_channels: int = option(
        8,
        "Channels of each latent group of --model hierarchical.",
        **options.COUNT,
    )
    width: int = option(
        64,
        "Channels of the residual paths of --model hierarchical.",
        **options.COUNT,
    )
    block_activation: str = option(
        "gelu",
        "Activation of the blocks of --model hierarchical: gelu (VDVAE's) "
        "or silu (NVAE's, cheaper on a CPU).",
        choices=tuple(BLOCK_ACTIVATIONS),
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
        **options.COUNT,
    )
    objective: str = option(
        "elbo", "Training objective.", choices=VAE.OBJECTIVES
    )
    num_samples: int = option(
        1, "Latent samples per image and step (k of IWAE).", **options.COUNT
    )
    free_bits: float = option(
        0.0,
        "KL floor in nats per latent dimension (ELBO only); 0 for none.",
        parse=float,
        check=options.finite_non_negative,
    )
    kl_warmup_epochs: float = option(
        0.0,
        "Epochs over which the KL weight rises linearly from 0 to --beta "
        "(KL warm-up); 0 for none.",
        parse=float,
        check=options.finite_non_negative,
    )
    skip_gradient_norm: float | None = option(
        None,
        "Skip every update whose gradient norm is above this (VDVAE's "
        "skip threshold); none to apply every update.",
        parse=float,
        check=options.positive_float,
    )
    filters: tuple = option(
        (32, 64),
        "Encoder filters per stage; the decoder mirrors them.",
        nargs="+",
        **options.COUNT,
    )
    dense_units: int = option(
        128, "Hidden dense layer of the conv encoder/decoder.", **options.COUNT
    )
    image_size: int | None = option(
        None,
        "Side of the square RGB images (None: 64); MNIST and KMNIST keep 28.",
        **options.COUNT,
    )
    epochs: int = option(10, "Training epochs.", **options.COUNT)
    batch_size: int = option(128, "Training batch size.", **options.COUNT)
    optimizer: str = option(
        "adam", "'adam' or 'adamw'.", choices=("adam", "adamw")
    )
    learning_rate: float = option(
        1e-3,
        "Initial learning rate.",
        parse=float,
        check=options.positive_float,
    )
    final_learning_rate: float | None = option(
        None,
        "If set, the learning rate follows a cosine decay to this value "
        "over the whole run.",
        parse=float,
        check=options.finite_non_negative,
    )
    weight_decay: float = option(
        0.0,
        "AdamW's decoupled weight decay.",
        parse=float,
        check=options.finite_non_negative,
    )
    global_clipnorm: float | None = option(
        None,
        "Clip the gradients to this global norm.",
        parse=float,
        check=options.positive_float,
    )
    ema_momentum: float | None = option(
        None,
        "Keep an exponential moving average of the weights with this "
        "momentum (Polyak averaging; VDVAE evaluates its averaged weights), "
        "e.g. 0.999: each epoch's test figures and pictures, the saved "
        "model and its evaluation then use the averaged weights; none for "
        "the last weights.",
        parse=float,
        check=options.open_fraction,
    )
    beta: float = option(
        1.0,
        "Weight of the KL term.",
        parse=float,
        check=options.finite_non_negative,
    )
    seed: int = option(
        0,
        "Seeds Python, NumPy, the backend and the model.",
        parse=int,
        check=options.seed,
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
        check=options.split,
    )
    test_split: str | None = option(
        None,
        "tfds split string of the test data, e.g. 'test[9000:]' "
        "(None: test, or train[90%:] for --images).",
        check=options.split,
    )
    max_train_examples: int | None = option(
        None, "Train on the first N images of the split only.", **options.COUNT
    )
    max_test_examples: int | None = option(
        None, "Test on the first N images of the split only.", **options.COUNT
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
        check=options.non_negative,
    )
    iwae_examples: int | None = option(
        1000,
        "Test images used by the NLL estimate, drawn at random with the "
        "seed (None: all).",
        **options.COUNT,
    )
    score_images: int = option(
        5000,
        "Images per set in the sample-quality scores of metrics.json "
        "(prior samples, fitted samplers, reconstructions of training "
        "images and training images, each against as many test images; "
        "at most the test split); 0 skips them.",
        parse=int,
        check=options.non_negative,
    )
    samplers: tuple = option(
        tuple(samplers.SAMPLERS),
        "Samplers fitted to the training codes after training, scored and "
        "saved as sampler_<name>.npz (kvae.samplers).",
        nargs="*",
        choices=tuple(samplers.SAMPLERS),
    )
    sampler_images: int | None = option(
        20_000,
        "Training images whose codes the samplers are fitted to: the first "
        "N of the training split (None: all). More codes let a Gaussian "
        "mixture fit its components without copying them "
        "(docs/sample_quality.md); fitting time grows with them.",
        **options.COUNT,
    )
    mixture_components: int = option(
        10,
        "Components of the gaussian_mixture sampler.",
        **options.COUNT,
    )
    mixture_reg_covar: float = option(
        1e-6,
        "Added to the diagonal of each covariance of the gaussian_mixture "
        "sampler (scikit-learn's reg_covar): a shrinkage that widens the "
        "components in the directions their few codes do not span (needed "
        "for high-dimensional codes: docs/sample_quality.md).",
        parse=float,
        check=options.finite_non_negative,
    )
    mixture_pca_components: int | None = option(
        None,
        "Principal components (whitened) the gaussian_mixture sampler is "
        "fitted in (None: the codes themselves); needed for the large codes "
        "of --sampler-levels all (docs/sample_quality.md).",
        **options.COUNT,
    )
    sampler_levels: str = option(
        "top",
        "The codes the samplers are fitted to: 'top' (the top group's of a "
        "hierarchical model, its lower groups drawn from their priors) or "
        "'all' (every group's, --model hierarchical only; give "
        "--mixture-pca-components).",
        choices=LEVELS,
    )
    two_stage_epochs: int = option(
        50, "Training epochs of the two_stage sampler.", **options.COUNT
    )
    flow_epochs: int = option(
        30, "Training epochs of the flow sampler.", **options.COUNT
    )
    feature_model: str | None = option(
        None,
        "A classifier saved by recipes/feature_classifier.py (.keras): the "
        "sample scores are also computed in its features.",
        check=options.keras_file,
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
        (2, 10),
        "Rows and columns of original images shown.",
        nargs=2,
        **options.COUNT,
    )
    sample_grid: int = option(
        8, "The sample GIF is sample_grid x sample_grid.", **options.COUNT
    )
    interpolation_grid: tuple = option(
        (2, 4),
        "Rows and columns of interpolated pairs.",
        nargs=2,
        **options.COUNT,
    )
    interpolation_method: str = option(
        "linear",
        "Path between two codes.",
        choices=("linear", "spherical"),
    )
    interpolation_steps: int = option(
        10, "Points on each interpolation path.", **options.COUNT
    )
    interpolation_scale: int | None = option(
        None,
        "Upscaling of the interpolation images (None: small images are "
        "enlarged to about 48 pixels).",
        **options.COUNT,
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
        "weights stay float32). 'auto' picks from the hardware "
        "(kvae.precision.choose_policy): mixed_bfloat16 on a GPU with "
        "bfloat16 and, under TensorFlow and torch, on a CPU with "
        "AVX512-BF16 or AMX-BF16; mixed_float16 on older GPUs; float32 "
        "otherwise. Measured in docs/BENCHMARKS.md.",
        choices=PRECISIONS,
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
            options.validate(field, getattr(self, field.name))
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
                f"{self.dataset!r}: give --binarize none for "
                f"{self.dataset!r}, or --dataset mnist or kmnist."
            )
        check_combinations(self)

    @property
    def splits(self):
        """`(train_split, test_split)` with the defaults filled in."""
        folder = self.dataset == "images"
        train = self.train_split or (FOLDER_SPLITS[0] if folder else "train")
        test = self.test_split or (FOLDER_SPLITS[1] if folder else "test")
        return train, test


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
