"""`Sampler`, the base of kvae's fitted samplers, and `load_sampler`."""

import json
import os

import keras
import numpy as np
from keras import ops

from kvae.model_args import check_sample_count
from kvae.model_args import check_temperature
from kvae.utils.files import atomic_path
from kvae.validation import image_batches


class Sampler:
    """Draws latent codes from a density fitted to a model's training codes.

    Subclasses implement `fit_codes(codes, verbose)` (fit the density to
    codes `(n, latent_dim)`), `draw(n, rng, temperature)` (NumPy codes)
    and `state()` / `set_state(config, arrays)` (what `save` writes). The
    codes are the posterior means `model.encode(x)[0]` (the top level's in
    a `kvae.HierarchicalVAE`); `sample` decodes them through the model, so
    the noise is NumPy's: the same seed gives the same images on
    TensorFlow, JAX and PyTorch.

    A sampler belongs to the model it was fitted to: fitting it to a
    second model is refused (create one sampler per model).

    Args:
        temperature: float. Scales the standard deviation of every draw
            (1 draws from the fitted density; below 1 trades diversity for
            fidelity, as in NVAE).
        seed: int. Seed of the fitting and of `sample` with `seed=None`.
    """

    def __init__(self, temperature=1.0, seed=0):
        self.temperature = check_temperature(temperature)
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise ValueError(f"seed must be an int, got {seed!r}.")
        self.seed = int(seed)
        self.model = None
        self.latent_dim = None
        self._rng = np.random.default_rng(self.seed)

    @property
    def fitted(self):
        return self.latent_dim is not None

    def fit(self, model, x, batch_size=256, verbose="auto"):
        """Fits the sampler to the codes of the images `x` under `model`.

        Args:
            model: a trained `kvae.VAE` (any prior) or
                `kvae.HierarchicalVAE`.
            x: training images `(n, *image_shape)` (NumPy), or a
                `tf.data.Dataset` or other iterable of batches (see
                `kvae.validation.image_batches`).
            batch_size: int. Images per encoder call.
            verbose: `"auto"`, 0 or 1. Progress bars (`"auto"`: where the
                work takes more than a few seconds).

        Returns:
            The fitted sampler (`self`).
        """
        if self.model is not None and self.model is not model:
            raise ValueError(
                f"This {type(self).__name__} was fitted to the model "
                f"{self.model.name!r}; create a new sampler for "
                f"{model.name!r}."
            )
        codes = training_codes(model, x, batch_size, verbose)
        self.fit_codes(codes, verbose)
        self.model = model
        self.latent_dim = codes.shape[1]
        return self

    def sample_latent(self, n, seed=None, temperature=None):
        """`n` codes `(n, latent_dim)` (float32 NumPy) from the fitted
        density; `seed=None` advances the sampler's own generator."""
        self._check_fitted()
        check_sample_count(n)
        temperature = (
            self.temperature
            if temperature is None
            else check_temperature(temperature)
        )
        rng = self._rng if seed is None else np.random.default_rng(seed)
        return self.draw(int(n), rng, temperature).astype("float32")

    def sample(self, n, seed=None, temperature=None, batch_size=500):
        """`n` images decoded from `sample_latent(n, seed, temperature)`,
        as a float32 NumPy array `(n, *image_shape)`."""
        z = self.sample_latent(n, seed, temperature)
        if self.model is None:
            raise ValueError(
                "This sampler was loaded without its model: pass the model "
                "to load_sampler(path, model) to decode its codes."
            )
        return decode_codes(self.model, z, batch_size)

    def save(self, path):
        """Writes the fitted sampler to `path` (`.npz`); load it with
        `kvae.samplers.load_sampler(path, model)` on any backend."""
        self._check_fitted()
        if not str(path).endswith(".npz"):
            raise ValueError(f"Sampler files end in .npz, got {path!r}.")
        config, arrays = self.state()
        config = {
            "class_name": type(self).__name__,
            "temperature": self.temperature,
            "seed": self.seed,
            "latent_dim": self.latent_dim,
            **config,
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
    sampler = cls(**cls.constructor_args(config))
    sampler.set_state(config, arrays)
    sampler.latent_dim = int(latent_dim)
    if model is not None:
        model_dim = getattr(model, "latent_dim", None)
        if model_dim != sampler.latent_dim:
            raise ValueError(
                f"The sampler in {path!r} draws {sampler.latent_dim}-D codes "
                f"but the model's latent is {model_dim}-D: load it with the "
                "model it was fitted to."
            )
        sampler.model = model
    return sampler


def training_codes(model, x, batch_size=256, verbose="auto"):
    """The posterior means of images `x` (NumPy `(n, latent_dim)`), the
    top level's for a hierarchical model, encoded in batches."""
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
    batches, total = image_batches(x, batch_size)
    progress = None
    if verbose == 1 or (verbose == "auto" and total and total > 20):
        progress = keras.utils.Progbar(total, unit_name="batch")
    codes = []
    for index, batch in enumerate(batches):
        mean, _ = model.encode(batch)
        codes.append(ops.convert_to_numpy(mean).astype("float64"))
        if progress is not None:
            progress.update(index + 1)
    if not codes or sum(len(c) for c in codes) < 2:
        raise ValueError("A sampler needs at least 2 training images.")
    return np.concatenate(codes)


def sampler_file_name(kind):
    """The file a recipe run, and a preset exported from it, keeps its
    fitted sampler of kind `kind` in (`"gaussian_mixture"`, ...)."""
    return f"sampler_{kind}.npz"


def decode_codes(model, z, batch_size=500):
    """`model.decode(z)` in batches, as a float32 NumPy array."""
    images = [
        ops.convert_to_numpy(model.decode(z[i : i + batch_size]))
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
