"""`GaussianMixtureSampler`: a Gaussian mixture fitted to the codes."""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture

from kvae.model_args import check_counts
from kvae.samplers.sampler import Sampler

# The fewest codes per component the recipes give a mixture: 15 was
# KMNIST's best, 600 components on 9,000 codes (docs/sample_quality.md).
MIN_CODES_PER_COMPONENT = 15
# Full (or tied) covariances larger than this, in float64 bytes, are
# refused: EM keeps working copies of them, several times this in all.
MAX_COVARIANCE_BYTES = 2**31


def components_for(num_components, num_codes):
    """`num_components`, or fewer where `num_codes` would give a component
    fewer than `MIN_CODES_PER_COMPONENT` codes (at least one)."""
    return min(num_components, max(1, num_codes // MIN_CODES_PER_COMPONENT))


def covariance_bytes(num_components, dims, covariance_type="full"):
    """The float64 bytes of the `(num_components, dims, dims)` covariances
    (and as many Cholesky factors) a full or tied mixture keeps (a tied
    one's is drawn through one factor per component); 0 for diagonal and
    spherical ones, which keep no `dims x dims` matrices."""
    if covariance_type not in ("full", "tied"):
        return 0
    return num_components * dims * dims * 8


class GaussianMixtureSampler(Sampler):
    """A full-covariance Gaussian mixture on the training codes.

    The "ex-post density estimation" of Ghosh et al.: fit a mixture of
    `num_components` Gaussians to the posterior means of the training
    images, draw codes from it and decode them. The EM fit is
    scikit-learn's `GaussianMixture` (k-means initialisation, `reg_covar`
    added to each covariance's diagonal); draws use the stored weights,
    means and Cholesky factors with NumPy, so samples are the same on every
    backend. `temperature` scales each component's standard deviation.

    With `pca_components`, the mixture is fitted in the span of the codes'
    first principal components, whitened (scikit-learn's `PCA`), and its
    draws are mapped back: for codes too large for full covariances, such
    as a hierarchical model's codes of every group (`fit(...,
    levels="all")`).

    Args:
        num_components: int. Mixture components (10 in the reference).
        covariance_type: str. `"full"` (default), `"diag"`, `"tied"` or
            `"spherical"`, as scikit-learn has them.
        reg_covar: float. Added to the covariances' diagonals.
        max_iter: int. EM iterations.
        pca_components: int or `None`. Principal components the mixture
            is fitted in (`None`: the codes themselves).
        temperature, seed, by_class: see `kvae.samplers.Sampler`.

    Example:

    ```python
    sampler = kvae.samplers.GaussianMixtureSampler(10).fit(model, x_train)
    images = sampler.sample(64, seed=0)
    ```

    Reference:
    - [Ghosh et al., 2020](https://arxiv.org/abs/1903.12436), section 5.
    """

    def __init__(
        self,
        num_components=10,
        covariance_type="full",
        reg_covar=1e-6,
        max_iter=200,
        pca_components=None,
        temperature=1.0,
        seed=0,
        by_class=None,
    ):
        super().__init__(temperature=temperature, seed=seed, by_class=by_class)
        check_counts(num_components=num_components)
        if pca_components is not None:
            check_counts(pca_components=pca_components)
            pca_components = int(pca_components)
        if covariance_type not in ("full", "diag", "tied", "spherical"):
            raise ValueError(
                "covariance_type must be 'full', 'diag', 'tied' or "
                f"'spherical', got {covariance_type!r}."
            )
        if not (np.isfinite(reg_covar) and reg_covar >= 0):
            raise ValueError(
                f"reg_covar must be a number >= 0, got {reg_covar!r}."
            )
        self.num_components = int(num_components)
        self.covariance_type = covariance_type
        self.reg_covar = float(reg_covar)
        self.max_iter = int(max_iter)
        self.pca_components = pca_components
        self.pca = None
        self.weights = None
        self.means = None
        self.cholesky = None

    @classmethod
    def constructor_args(cls, config):
        keys = (
            "num_components",
            "covariance_type",
            "reg_covar",
            "max_iter",
            "temperature",
            "seed",
        )
        args = {key: config[key] for key in keys}
        return {
            **args,
            "pca_components": config.get("pca_components"),
            "by_class": config.get("by_class"),
        }

    def fit_codes(self, codes, verbose):
        if len(codes) < self.num_components:
            raise ValueError(
                f"{self.num_components} components need at least as many "
                f"training images; got {len(codes)}."
            )
        distinct = len(np.unique(codes, axis=0))
        if distinct < self.num_components:
            raise ValueError(
                f"The model encodes the {len(codes)} training images to only "
                f"{distinct} distinct code(s), fewer than the "
                f"{self.num_components} components: its encoder has "
                "collapsed. Train it longer or with a smaller learning "
                "rate, or use fewer components."
            )
        codes = self._reduce(codes)
        mixture = GaussianMixture(
            self.num_components,
            covariance_type=self.covariance_type,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            random_state=self.seed,
            verbose=2 if verbose == 1 else 0,
        ).fit(codes)
        d = codes.shape[1]
        covariances = {
            "full": lambda c: c,
            "tied": lambda c: np.broadcast_to(c, (self.num_components, d, d)),
            "diag": lambda c: np.stack([np.diag(v) for v in c]),
            "spherical": lambda c: np.stack([np.eye(d) * v for v in c]),
        }[self.covariance_type](mixture.covariances_)
        self.weights = mixture.weights_
        self.means = mixture.means_
        self.cholesky = np.linalg.cholesky(covariances)
        self.converged = bool(mixture.converged_)

    def draw(self, n, rng, temperature):
        components = rng.choice(self.num_components, size=n, p=self.weights)
        eps = rng.standard_normal((n, self.means.shape[1]))
        offsets = np.einsum("nij,nj->ni", self.cholesky[components], eps)
        codes = self.means[components] + temperature * offsets
        if self.pca is None:
            return codes
        mean, components, scale = self.pca
        return (codes * scale) @ components + mean

    def _reduce(self, codes):
        """The codes the mixture is fitted to: `codes`, or their whitened
        principal components (kept in `self.pca` for `draw`)."""
        n, d = codes.shape
        if self.pca_components is None:
            size = covariance_bytes(
                self.num_components, d, self.covariance_type
            )
            if size > MAX_COVARIANCE_BYTES:
                raise ValueError(
                    f"{self.num_components} {self.covariance_type} "
                    f"covariances of {d}-D codes need {size / 2**30:.0f} "
                    "GiB: give pca_components (e.g. 256) to fit the mixture "
                    "in the codes' principal components, or use "
                    "covariance_type='diag'."
                )
            return codes
        if self.pca_components > min(n, d):
            raise ValueError(
                f"pca_components={self.pca_components} exceeds what "
                f"{n} codes of {d} dimensions have (at most {min(n, d)})."
            )
        pca = PCA(self.pca_components, whiten=True, random_state=self.seed).fit(
            codes
        )
        scale = np.sqrt(pca.explained_variance_)
        self.pca = (pca.mean_, pca.components_, scale[None, :])
        return pca.transform(codes)

    def state(self):
        config = self.constructor_args(vars(self))
        arrays = {
            "weights": self.weights,
            "means": self.means,
            "cholesky": self.cholesky,
        }
        if self.pca is not None:
            names = ("pca_mean", "pca_components", "pca_scale")
            arrays.update(zip(names, self.pca))
        return config, arrays

    def set_state(self, config, arrays):
        self.weights = arrays["weights"]
        self.means = arrays["means"]
        self.cholesky = arrays["cholesky"]
        if "pca_mean" in arrays:
            self.pca = tuple(
                arrays[name]
                for name in ("pca_mean", "pca_components", "pca_scale")
            )
