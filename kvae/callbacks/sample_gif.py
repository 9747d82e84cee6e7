from statistics import NormalDist

import numpy as np

from kvae.callbacks import _base
from kvae.callbacks import _frames
from kvae.samplers.sampler import code_size

_SAMPLINGS = ("auto", "manifold", "prior")
# The manifold spans these prior quantiles on each axis (Kingma & Welling).
_QUANTILES = (0.05, 0.95)


class SampleGIF(_base.ImageGridGIF):
    """A GIF of one fixed grid of latent points decoded over training.

    The same latent codes are decoded at every frame, so the GIF shows the
    decoder learning. With a 2-D latent (`sampling="auto"` or
    `"manifold"`) the codes form a regular grid through the Gaussian
    quantiles, from 5% to 95% on each axis: the learned manifold, with
    `z[0]` growing to the right and `z[1]` growing upwards. Otherwise
    (`"prior"`) they are draws from the model's prior with `seed`,
    `model.sample_latent(n, seed)`: fixed draws from `N(0, I)` with the
    default `kvae.priors.StandardNormal`. A learned prior
    (`MixtureOfGaussians`, `VampPrior`) changes during training, so each
    frame draws again from the current prior with the same seed: the same
    noise (and components, unless the changed mixture weights tip a
    draw's choice), moved with the prior, so that each frame shows
    what `model.sample(n, seed)` gives at that point of training (for a
    `kvae.HierarchicalVAE`, the top level's codes, decoded through the
    lower levels' prior means). A model without `sample_latent` gets fixed
    draws from `N(0, I)` (NumPy, with `seed`). `latent_points` holds the
    codes of the latest frame.

    Args:
        output_dir: str. Folder for the GIF; created if needed.
        grid_size: int `n` (an `n` x `n` grid) or `(rows, cols)`: the
            decoded images of each frame.
        sampling: str. `"auto"`, `"manifold"` (needs a 2-D latent) or
            `"prior"`.
        seed: int. Seed of the prior draws.
        filename: str. Name of the GIF inside `output_dir`.
        every_n_epochs: int. Draw a frame at the end of every N epochs.
        every_n_batches: int or `None`. If set, draw a frame every N
            training batches instead (for short runs).
        frame_duration: float. Seconds per frame.
        end_pause: float. Seconds the last frame is held before looping.
        scale: int or `None`. Upscaling of each image; by default small
            images are enlarged to about 48 pixels.
        value_range: `(low, high)`. Data values shown as black and white.
        sampler: a fitted `kvae.samplers` sampler or `None`. If given, the
            grid's codes are its draws (with `seed`) instead of the
            prior's.

    Example:

    ```python
    callback = kvae.callbacks.SampleGIF("runs/mnist", grid_size=10)
    model.fit(x_train, epochs=20, callbacks=[callback])
    ```

    Reference:
    - [Kingma and Welling, 2013](https://arxiv.org/abs/1312.6114), Fig. 4.
    """

    def __init__(
        self,
        output_dir,
        grid_size=8,
        sampling="auto",
        seed=0,
        filename="samples.gif",
        every_n_epochs=1,
        every_n_batches=None,
        frame_duration=0.3,
        end_pause=1.5,
        scale=None,
        value_range=(0.0, 1.0),
        sampler=None,
    ):
        if sampler is not None and not callable(
            getattr(sampler, "sample_latent", None)
        ):
            raise ValueError(
                "`sampler` must be a kvae.samplers sampler (with "
                f"sample_latent), got {sampler!r}."
            )
        self.sampler = sampler
        if sampling not in _SAMPLINGS:
            raise ValueError(
                f"`sampling` must be one of {_SAMPLINGS}; got {sampling!r}."
            )
        if (
            not isinstance(seed, (int, np.integer))
            or isinstance(seed, bool)
            or seed < 0
        ):
            raise ValueError(
                f"`seed` must be a non-negative int, so that every frame "
                f"decodes the same draws; got {seed!r}."
            )
        self.grid_size = _frames.check_grid_size(grid_size)
        self.sampling = sampling
        self.seed = int(seed)
        super().__init__(
            output_dir,
            filename,
            every_n_epochs=every_n_epochs,
            every_n_batches=every_n_batches,
            frame_duration=frame_duration,
            end_pause=end_pause,
            scale=scale,
            value_range=value_range,
        )
        self.latent_points = None
        self._from_prior = False
        self._whole_path = False

    def setup(self):
        _base.check_model(self.model, ["decode"], who="SampleGIF")
        latent_dim = _base.latent_dim_of(self.model)
        rows, cols = self.grid_size
        manifold = self.sampling == "manifold" or (
            self.sampling == "auto" and latent_dim == 2
        )
        if manifold and latent_dim != 2:
            raise ValueError(
                f'sampling="manifold" needs a 2-D latent space, but the '
                f'model has latent_dim={latent_dim}. Use sampling="prior".'
            )
        self._from_prior = False
        # A sampler fitted to every group's codes decodes them whole.
        self._whole_path = False
        if self.sampler is not None:
            # Fixed codes from the fitted density, decoded by the model as
            # it trains on (fine-tuning, or more epochs after fitting).
            self.title = f"{type(self.sampler).__name__} samples"
            points = self.sampler.sample_latent(rows * cols, seed=self.seed)
            levels = getattr(self.sampler, "levels", "top")
            size = code_size(self.model, levels)
            if points.shape[1] != size:
                raise ValueError(
                    f"The sampler draws {points.shape[1]}-D codes but the "
                    f"model's codes (levels={levels!r}) are {size}-D: fit "
                    "the sampler to this model."
                )
            self.latent_points = points
            self._whole_path = levels == "all"
        elif manifold:
            self.title = "latent manifold"
            self.latent_points = manifold_grid(rows, cols)
        elif callable(getattr(self.model, "sample_latent", None)):
            self.title = "prior samples"
            self._from_prior = True
            # Drawn now as well, so that a prior that cannot sample fails
            # before training.
            self.latent_points = self._prior_points()
        else:
            self.title = "prior samples"
            rng = np.random.default_rng(self.seed)
            self.latent_points = rng.standard_normal(
                (rows * cols, latent_dim)
            ).astype("float32")

    def make_frame(self, label):
        if self._from_prior:
            self.latent_points = self._prior_points()
        # `self.model` is read at each frame: under JAX, reading it is
        # what brings the trained weights back into the model's variables.
        model = self.model
        decode = model.decode_path if self._whole_path else model.decode
        images = decode(self.latent_points)
        return self.grid_frame(images, self.grid_size[1], label)

    def _prior_points(self):
        rows, cols = self.grid_size
        points = self.model.sample_latent(rows * cols, seed=self.seed)
        return _base.to_numpy(points).astype("float32")


def manifold_grid(rows, cols):
    """`(rows * cols, 2)` latent codes on Gaussian quantiles, row-major,
    `z[0]` increasing along a row and `z[1]` decreasing down the rows."""
    normal = NormalDist()

    def axis(n):
        if n == 1:
            return np.zeros(1)
        quantiles = np.linspace(_QUANTILES[0], _QUANTILES[1], n)
        return np.array([normal.inv_cdf(q) for q in quantiles])

    z0, z1 = np.meshgrid(axis(cols), axis(rows)[::-1])
    return np.stack([z0.ravel(), z1.ravel()], axis=-1).astype("float32")
