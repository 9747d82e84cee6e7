"""`Sampler`, the base of kvae's fitted samplers, and `load_sampler`."""

import json
import os

import keras
import numpy as np
from keras import ops

from kvae.model_args import check_sample_count
from kvae.model_args import check_temperature
from kvae.samplers.class_codes import check_labels
from kvae.samplers.class_codes import check_sampling_labels
from kvae.samplers.class_codes import draw_by_class
from kvae.samplers.class_codes import fits_by_class
from kvae.samplers.class_codes import model_classes
from kvae.utils.files import atomic_path
from kvae.validation import is_array
from kvae.validation import labeled_batches


class Sampler:
    """Draws latent codes from a density fitted to a model's training codes.

    Subclasses implement `fit_codes(codes, verbose)` (fit the density to
    codes `(n, latent_dim)`), `draw(n, rng, temperature)` (NumPy codes)
    and `state()` / `set_state(config, arrays)` (what `save` writes). The
    codes are the posterior means `model.encode(x)[0]` (the top level's in
    a `kvae.HierarchicalVAE`); `sample` decodes them through the model, so
    the noise is NumPy's: the same seed gives the same images on
    TensorFlow, JAX and PyTorch. A hierarchical model's sampler can
    instead be fitted to the codes of every group (`fit(...,
    levels="all")`, the model's `encode_path`), so that it draws the lower
    groups too rather than leaving them to their priors.

    A sampler belongs to the model it was fitted to: fitting it to a
    second model is refused (create one sampler per model).

    For a conditional model (`kvae.ConditionalVAE`,
    `kvae.ConditionalHierarchicalVAE`), `fit` takes the training labels,
    the codes are those of `q(z | x, y)`, and `sample(n, labels=...)`
    decodes with the labels asked for. The density is either one for all
    classes (the codes of a model with a prior `p(z)` are meant not to
    depend on the class: the decoder takes the label) or one per class
    (`by_class`, the default when the prior is `p(z | y)`, whose codes
    cluster by class).

    Args:
        temperature: float. Scales the standard deviation of every draw
            (1 draws from the fitted density; below 1 trades diversity for
            fidelity, as in NVAE).
        seed: int. Seed of the fitting and of `sample` with `seed=None`.
        by_class: bool or `None`. Fit one density per class to a
            conditional model's codes; `None`: when its prior is
            `p(z | y)` (`kvae.priors.ClassGaussian`).
    """

    def __init__(self, temperature=1.0, seed=0, by_class=None):
        self.temperature = check_temperature(temperature)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError(f"seed must be an int, got {seed!r}.")
        if by_class not in (None, True, False):
            raise ValueError(
                f"by_class must be True, False or None, got {by_class!r}."
            )
        self.seed = int(seed)
        self.by_class = by_class
        self.model = None
        self.latent_dim = None
        self.levels = "top"
        self.num_classes = None
        self.class_samplers = None
        self._rng = np.random.default_rng(self.seed)

    @property
    def fitted(self):
        return self.latent_dim is not None

    def fit(
        self,
        model,
        x,
        labels=None,
        batch_size=256,
        verbose="auto",
        levels="top",
    ):
        """Fits the sampler to the codes of the images `x` under `model`.

        Args:
            model: a trained `kvae.VAE` (any prior) or
                `kvae.HierarchicalVAE`, or their conditional forms.
            x: training images `(n, *image_shape)` (NumPy), or a
                `tf.data.Dataset` or other iterable of batches (see
                `kvae.validation.image_batches`; of a conditional model,
                batches of `(images, labels)` pairs).
            labels: the class of every image of the array `x`, for a
                conditional model (`None` otherwise).
            batch_size: int. Images per encoder call.
            verbose: `"auto"`, 0 or 1. Progress bars (`"auto"`: where the
                work takes more than a few seconds).
            levels: `"top"` (the codes `encode` gives: a hierarchical
                model's top group, its lower groups then drawn from their
                priors) or `"all"` (a hierarchical model's codes of every
                group, `encode_path`; `sample` decodes them with
                `decode_path`). Every group's codes are large (5,248
                dimensions for 64x64 dogs): give a Gaussian mixture
                `pca_components`. docs/sample_quality.md measures both.

        Returns:
            The fitted sampler (`self`).
        """
        if self.model is not None and self.model is not model:
            raise ValueError(
                f"This {type(self).__name__} was fitted to the model "
                f"{self.model.name!r}; create a new sampler for "
                f"{model.name!r}."
            )
        num_classes = model_classes(model)
        by_class = fits_by_class(model, self.by_class)
        if by_class and num_classes is None:
            raise ValueError(
                "by_class=True fits one density per class, but the model "
                f"{model.name!r} takes no labels. Use by_class=None."
            )
        codes, code_labels = training_codes(
            model,
            x,
            batch_size,
            verbose,
            labels=labels,
            with_labels=True,
            levels=levels,
        )
        if by_class:
            self.class_samplers = [
                self._fit_class(codes[code_labels == c], c, verbose)
                for c in range(num_classes)
            ]
        else:
            self.fit_codes(codes, verbose)
        self.by_class = bool(by_class)
        self.num_classes = num_classes
        self.model = model
        self.latent_dim = codes.shape[1]
        self.levels = levels
        return self

    def _fit_class(self, codes, label, verbose):
        """A sampler of the same kind fitted to the codes of one class
        (`None` when there are none)."""
        if not len(codes):
            return None
        sampler = type(self)(**self.constructor_args(vars(self)))
        sampler.by_class = False
        try:
            sampler.fit_codes(codes, verbose)
        except ValueError as error:
            raise ValueError(f"Class {label}: {error}") from None
        return sampler

    def sample_latent(self, n, seed=None, temperature=None, labels=None):
        """`n` codes `(n, latent_dim)` (float32 NumPy) from the fitted
        density; `seed=None` advances the sampler's own generator. A
        sampler fitted by class draws row `i` from the density of class
        `labels[i]` (`labels`: one int for all, or `n` labels)."""
        z, _ = self._codes(n, seed, temperature, labels, "sample_latent()")
        return z

    def _codes(self, n, seed, temperature, labels, what, labelled=False):
        """`(codes, labels)`: the draws of `sample_latent` and the labels
        checked (`labelled`: a conditional model's must be given)."""
        self._check_fitted()
        check_sample_count(n)
        temperature = (
            self.temperature
            if temperature is None
            else check_temperature(temperature)
        )
        if labelled and self.num_classes is not None and labels is None:
            check_labels(None, self.num_classes, what=f"labels of {what}")
        labels = check_sampling_labels(labels, n, self.num_classes, what)
        rng = self._rng if seed is None else np.random.default_rng(seed)
        if self.by_class:
            if labels is None:
                raise ValueError(
                    "This sampler has one density per class: give "
                    "labels= (one int, or one label per code)."
                )
            z = draw_by_class(self.class_samplers, labels, rng, temperature)
        else:
            z = self.draw(int(n), rng, temperature)
        return z.astype("float32"), labels

    def sample(
        self, n, labels=None, seed=None, temperature=None, batch_size=500
    ):
        """`n` images decoded from `sample_latent(n, seed, temperature,
        labels)`, as a float32 NumPy array `(n, *image_shape)`; a
        conditional model's `labels` (one int, or `n` labels) also go to
        its decoder."""
        z, labels = self._codes(
            n, seed, temperature, labels, "sample()", labelled=True
        )
        if self.model is None:
            raise ValueError(
                "This sampler was loaded without its model: pass the model "
                "to load_sampler(path, model) to decode its codes."
            )
        return decode_codes(self.model, z, batch_size, labels, self.levels)

    def save(self, path):
        """Writes the fitted sampler to `path` (`.npz`); load it with
        `kvae.samplers.load_sampler(path, model)` on any backend."""
        self._check_fitted()
        if not str(path).endswith(".npz"):
            raise ValueError(f"Sampler files end in .npz, got {path!r}.")
        if self.by_class:
            # Each class's own state; the first one's settings on top (a
            # file's settings are those of its samplers' states).
            config, arrays, states = None, {}, []
            for c, sampler in enumerate(self.class_samplers):
                state = None
                if sampler is not None:
                    state, class_arrays = sampler.state()
                    arrays.update(
                        {f"class_{c}__{k}": v for k, v in class_arrays.items()}
                    )
                    config = config or dict(state)
                states.append(state)
            config["class_states"] = states
        else:
            config, arrays = self.state()
        config = {
            **config,
            "class_name": type(self).__name__,
            "temperature": self.temperature,
            "seed": self.seed,
            "latent_dim": self.latent_dim,
            "levels": self.levels,
            "by_class": self.by_class,
            "num_classes": self.num_classes,
        }
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, config=np.array(json.dumps(config)), **arrays)

    def _check_fitted(self):
        if not self.fitted:
            raise ValueError(
                f"This {type(self).__name__} is not fitted yet: call "
                "fit(model, x_train) first, or load_sampler(path, model)."
            )

    # The subclass's part.
    def fit_codes(self, codes, verbose):
        raise NotImplementedError

    def draw(self, n, rng, temperature):
        raise NotImplementedError

    def state(self):
        raise NotImplementedError

    def set_state(self, config, arrays):
        raise NotImplementedError


def load_sampler(path, model=None):
    """Loads a sampler written by `Sampler.save`.

    Args:
        path: str. The `.npz` file.
        model: the `kvae.VAE` whose codes it draws (needed by `sample`;
            `sample_latent` works without). Its latent size is checked.

    Returns:
        The sampler, of the class it was saved as.
    """
    from kvae import samplers

    if not os.path.isfile(path):
        raise FileNotFoundError(f"No sampler file at {path!r}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            config = json.loads(str(data["config"]))
            arrays = {key: data[key] for key in data.files if key != "config"}
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(
            f"{path!r} is not a kvae sampler file ({error}); write one "
            "with sampler.save(path)."
        ) from error
    cls = getattr(samplers, config.pop("class_name", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, Sampler)):
        raise ValueError(f"{path!r} does not hold a kvae sampler.")
    latent_dim = config.pop("latent_dim")
    levels = config.pop("levels", "top")
    num_classes = config.pop("num_classes", None)
    class_states = config.pop("class_states", None)
    sampler = cls(**cls.constructor_args(config))
    if class_states is None:
        sampler.set_state(config, arrays)
    else:
        sampler.class_samplers = [
            _class_sampler(cls, config, state, arrays, c)
            for c, state in enumerate(class_states)
        ]
    sampler.by_class = bool(config.get("by_class"))
    sampler.num_classes = num_classes
    sampler.latent_dim = int(latent_dim)
    sampler.levels = levels
    if model is not None:
        model_dim = code_size(model, levels)
        if model_dim != sampler.latent_dim:
            raise ValueError(
                f"The sampler in {path!r} draws {sampler.latent_dim}-D codes "
                f"but the model's codes (levels={levels!r}) are "
                f"{model_dim}-D: load it with the model it was fitted to."
            )
        if model_classes(model) != num_classes:
            raise ValueError(
                f"The sampler in {path!r} was fitted to a model of "
                f"{num_classes} classes (None: no labels), but this model "
                f"has {model_classes(model)}: load it with the model it "
                "was fitted to."
            )
        sampler.model = model
    return sampler


def _class_sampler(cls, config, state, arrays, label):
    """The sampler of class `label` of a file saved by class."""
    if state is None:
        return None
    sampler = cls(**cls.constructor_args(config))
    prefix = f"class_{label}__"
    own = {k: v for k, v in arrays.items() if k.startswith(prefix)}
    sampler.set_state(
        {**config, **state}, {k[len(prefix) :]: v for k, v in own.items()}
    )
    return sampler


LEVELS = ("top", "all")


def check_levels(model, levels):
    """Raises `ValueError` unless `levels` is one of `LEVELS` and, for
    `"all"`, `model` has codes of every group (`encode_path`)."""
    if levels not in LEVELS:
        raise ValueError(f"levels must be 'top' or 'all', got {levels!r}.")
    if levels == "all" and not callable(getattr(model, "encode_path", None)):
        raise ValueError(
            f"levels='all' fits the codes of every latent group of a "
            f"kvae.HierarchicalVAE, but {type(model).__name__} "
            f"{getattr(model, 'name', '')!r} has one level: use "
            "levels='top'."
        )


def code_size(model, levels):
    """The size of `model`'s codes that a sampler of `levels` draws
    (`levels` checked first, see `check_levels`)."""
    check_levels(model, levels)
    if levels == "all":
        return model.path_dim
    return getattr(model, "latent_dim", None)


def training_codes(
    model,
    x,
    batch_size=256,
    verbose="auto",
    labels=None,
    with_labels=False,
    levels="top",
):
    """The posterior means of images `x` (NumPy `(n, latent_dim)`), the
    top level's for a hierarchical model (with `levels="all"`, its codes of
    every group, `encode_path`), encoded in batches. A conditional model
    encodes each image with its label (`labels`, or those of a dataset of
    pairs); `with_labels=True` returns `(codes, labels)`, the labels
    `None` for a model without classes."""
    if getattr(model, "latent_dim", None) is None and not getattr(
        model, "built", False
    ):
        raise ValueError(
            "The model is not built: train it (fit) before fitting a "
            "sampler to its codes."
        )
    if not hasattr(model, "encode"):
        raise ValueError(
            f"Samplers take a kvae.VAE; got {type(model).__name__}."
        )
    num_classes = model_classes(model)
    if num_classes is None and labels is not None:
        raise ValueError(
            f"labels were given, but the model {model.name!r} takes no "
            "labels: fit the sampler to the images alone."
        )
    if num_classes is not None and labels is not None and not is_array(x):
        raise ValueError(
            "labels= goes with an array of images; a dataset of (images, "
            "labels) pairs carries its own."
        )
    if num_classes is not None and labels is not None:
        labels = check_labels(
            labels, num_classes, len(x), "labels given to the sampler"
        )
    check_levels(model, levels)

    def encode(batch, **kwargs):
        if levels == "all":
            return model.encode_path(batch, **kwargs)
        return model.encode(batch, **kwargs)[0]

    batches, total = labeled_batches(x, batch_size, labels)
    progress = None
    if verbose == 1 or (verbose == "auto" and total and total > 20):
        progress = keras.utils.Progbar(total, unit_name="batch")
    codes, code_labels = [], []
    for index, (batch, batch_labels) in enumerate(batches):
        if num_classes is None:
            mean = encode(batch)
        else:
            if labels is None:  # a dataset's own labels, or none
                batch_labels = check_labels(
                    batch_labels, num_classes, len(batch), "training labels"
                )
            mean = encode(batch, labels=batch_labels)
            code_labels.append(batch_labels)
        codes.append(ops.convert_to_numpy(mean).astype("float64"))
        if progress is not None:
            progress.update(index + 1)
    if not codes or sum(len(c) for c in codes) < 2:
        raise ValueError("A sampler needs at least 2 training images.")
    codes = np.concatenate(codes)
    if not with_labels:
        return codes
    return codes, np.concatenate(code_labels) if code_labels else None


def sampler_file_name(kind):
    """The file a recipe run, and a preset exported from it, keeps its
    fitted sampler of kind `kind` in (`"gaussian_mixture"`, ...)."""
    return f"sampler_{kind}.npz"


def decode_codes(model, z, batch_size=500, labels=None, levels="top"):
    """`model.decode(z)` (with `levels="all"`, `model.decode_path(z)`) in
    batches (with `labels`, one per code, for a conditional model), as a
    float32 NumPy array."""
    decode = model.decode_path if levels == "all" else model.decode
    images = [
        ops.convert_to_numpy(
            decode(z[i : i + batch_size])
            if labels is None
            else decode(z[i : i + batch_size], labels[i : i + batch_size])
        )
        for i in range(0, len(z), batch_size)
    ]
    return np.concatenate(images).astype("float32")


def prior_samples(model, n, seed=0, temperature=1.0, batch_size=500):
    """`n` images of `model.sample` in batches (batch `i` with seed
    `seed + i`), as a float32 NumPy array: for a hierarchical model, every
    group drawn from its prior, not only the top one."""
    images = [
        ops.convert_to_numpy(
            model.sample(
                min(batch_size, n - start),
                seed=seed + index,
                temperature=temperature,
            )
        )
        for index, start in enumerate(range(0, n, batch_size))
    ]
    return np.concatenate(images).astype("float32")
