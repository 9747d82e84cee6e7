"""Sample-quality scores: how far a set of generated images is from a set
of real ones, in a feature space.

Each function takes two image sets (NumPy arrays in `[0, 1]`, `tf.data`
datasets or precomputed `Features`) and an optional feature network
(`kvae.evaluation.random_features` by default), and returns plain floats
with the number of images used. Lower is better for the distances; higher
for precision and recall.

Example:

```python
import kvae

real, fake = x_test[:2000], model.sample(2000).numpy()
fd = kvae.evaluation.frechet_distance(real, fake)
print(f"FD {fd.value:.2f} on {fd.num_real} real / {fd.num_generated} images")
scores = kvae.evaluation.sample_scores(real, fake)   # all of them at once
```

The scores are only comparable within one feature space and one number
of images: FD in particular is biased upwards for small sets.
"""

import dataclasses

import numpy as np
from sklearn.metrics import pairwise_distances_chunked

from kvae.evaluation.features import extract_features
from kvae.model_args import check_int


@dataclasses.dataclass(frozen=True)
class Score:
    """A score and the images behind it.

    Attributes:
        value: float. The score.
        spread: float or `None`. Its standard deviation over subsets
            (kernel distance) or `None`.
        num_real: int. Real images used.
        num_generated: int. Generated images used.
    """

    value: float
    spread: float | None
    num_real: int
    num_generated: int

    def __float__(self):
        return self.value

    def __format__(self, spec):
        return format(self.value, spec)


@dataclasses.dataclass(frozen=True)
class PrecisionRecall:
    """k-NN precision, recall, density and coverage (see
    `precision_recall`); every field a plain float or int."""

    precision: float
    recall: float
    density: float
    coverage: float
    k: int
    num_real: int
    num_generated: int


def frechet_distance(real, generated, features=None, verbose="auto"):
    """The Fréchet distance between Gaussians fitted to two feature sets.

        FD = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)),

    with `mu` and `S` the mean and covariance of each set's features. In
    Inception's pool features this is FID; kvae's default space is
    `random_features`. It is 0 for identical sets and grows with both a
    shifted mean and a different spread (a sampler that draws only some
    modes scores worse). FD is biased upwards for small sets: compare
    scores on the same number of images.

    Args:
        real: images `(n, height, width, channels)` in `[0, 1]`, a
            `tf.data.Dataset` of batches, or `Features`.
        generated: the same, for the generated images.
        features: `keras.Model` or `None`. Feature network (default:
            `random_features`).
        verbose: `"auto"`, 0 or 1. Progress bars of feature extraction.

    Returns:
        `Score` (`float(score)` is the distance).

    Reference:
    - [Heusel et al., 2017](https://arxiv.org/abs/1706.08500)
    """
    f_real, f_gen = _feature_pair(real, generated, features, 2, verbose)
    value = frechet_distance_of_features(f_real.values, f_gen.values)
    return Score(value, None, len(f_real), len(f_gen))


def frechet_distance_of_features(a, b):
    """`frechet_distance` of two feature arrays `(n, d)`, in float64."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    # Tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues
    # of S_a S_b, which are real and >= 0 (a product of two PSD matrices):
    # exact, and stable where scipy.linalg.sqrtm warns about a singular
    # product (fewer images than features).
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b).real
    trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues, 0, None)))
    value = (
        np.sum((mu_a - mu_b) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2.0 * trace_sqrt
    )
    return float(max(value, 0.0))


def kernel_distance(
    real,
    generated,
    features=None,
    num_subsets=100,
    subset_size=1000,
    seed=0,
    verbose="auto",
):
    """The kernel distance (KID): an unbiased squared MMD with a cubic
    polynomial kernel, averaged over random subsets.

        k(x, y) = (x . y / d + 1)^3
        MMD^2 = mean_{i != j} k(r_i, r_j) + mean_{i != j} k(g_i, g_j)
                - 2 mean_{i, j} k(r_i, g_j)

    on `num_subsets` pairs of subsets of `subset_size` images drawn
    without replacement (fewer if a set is smaller). Unlike FD it is
    unbiased: two draws of one distribution score about 0 (slightly
    negative values happen) whatever the number of images.

    Args:
        real, generated, features, verbose: as `frechet_distance`.
        num_subsets: int. Number of subset pairs.
        subset_size: int. Images per subset (at most the smaller set).
        seed: int. Seed of the subset draws (NumPy).

    Returns:
        `Score`: the mean over subsets, its standard deviation in
        `spread`.

    Reference:
    - [Binkowski et al., 2018](https://arxiv.org/abs/1801.01401)
    """
    f_real, f_gen = _feature_pair(real, generated, features, 2, verbose)
    mean, std = kernel_distance_of_features(
        f_real.values, f_gen.values, num_subsets, subset_size, seed
    )
    return Score(mean, std, len(f_real), len(f_gen))


def kernel_distance_of_features(
    a, b, num_subsets=100, subset_size=1000, seed=0
):
    """`(mean, std)` of `kernel_distance` over subsets of two feature
    arrays `(n, d)`."""
    check_int("num_subsets", num_subsets, 1)
    check_int("subset_size", subset_size, 1)
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    values = []
    for _ in range(num_subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx = (x @ x.T / d + 1) ** 3
        k_yy = (y @ y.T / d + 1) ** 3
        k_xy = (x @ y.T / d + 1) ** 3
        off_diagonal = m * (m - 1)
        values.append(
            (k_xx.sum() - np.trace(k_xx)) / off_diagonal
            + (k_yy.sum() - np.trace(k_yy)) / off_diagonal
            - 2 * k_xy.mean()
        )
    return float(np.mean(values)), float(np.std(values))


def precision_recall(real, generated, features=None, k=3, verbose="auto"):
    """k-nearest-neighbour precision and recall, density and coverage.

    Each real feature vector gets a ball reaching its k-th nearest real
    neighbour; the union of these balls estimates the real manifold, and
    the generated set's likewise.

    - precision: the fraction of generated images inside the real
      manifold (fidelity);
    - recall: the fraction of real images inside the generated manifold
      (diversity);
    - density: how many real balls hold each generated image, over `k`
      (about 1 when the two sets match; robust to real outliers);
    - coverage: the fraction of real balls holding at least one generated
      image.

    Distances are computed in chunks (`sklearn.metrics.
    pairwise_distances_chunked`), so memory stays bounded.

    Args:
        real, generated, features, verbose: as `frechet_distance`.
        k: int. The neighbour that sets each ball's radius.

    Returns:
        `PrecisionRecall`.

    References:
    - [Kynkäänniemi et al., 2019](https://arxiv.org/abs/1904.06991)
    - [Naeem et al., 2020](https://arxiv.org/abs/2002.09797)
    """
    check_int("k", k, 1)
    f_real, f_gen = _feature_pair(real, generated, features, k + 1, verbose)
    values = precision_recall_of_features(f_real.values, f_gen.values, k)
    return PrecisionRecall(
        **values, k=int(k), num_real=len(f_real), num_generated=len(f_gen)
    )


def precision_recall_of_features(a, b, k=3):
    """`precision`, `recall`, `density` and `coverage` (a dict of floats)
    of generated features `b` against real features `a`."""
    radii_a = _kth_neighbour_distance(a, k)
    radii_b = _kth_neighbour_distance(b, k)
    # For each generated image: how many real balls hold it.
    inside_real = _count_inside(b, a, radii_a)
    # For each real image: is it inside any generated ball.
    inside_gen = _count_inside(a, b, radii_b)
    # For each real ball: does it hold any generated image.
    covered = _count_inside(a, b, radii_a, per_query_radius=True)
    return {
        "precision": float(np.mean(inside_real > 0)),
        "recall": float(np.mean(inside_gen > 0)),
        "density": float(np.sum(inside_real) / (k * len(b))),
        "coverage": float(np.mean(covered > 0)),
    }


def sample_scores(
    real, generated, features=None, k=3, num_subsets=100, subset_size=1000,
    verbose="auto",
):
    """Every score at once, for metrics files: a dict of plain floats.

    The features of each set are computed once. Keys: `fd`, `kid`,
    `kid_std`, `precision`, `recall`, `density`, `coverage`, `num_real`,
    `num_generated`.
    """
    f_real, f_gen = _feature_pair(real, generated, features, k + 1, verbose)
    kid, kid_std = kernel_distance_of_features(
        f_real.values, f_gen.values, num_subsets, subset_size
    )
    return {
        "fd": frechet_distance_of_features(f_real.values, f_gen.values),
        "kid": kid,
        "kid_std": kid_std,
        **precision_recall_of_features(f_real.values, f_gen.values, k),
        "num_real": len(f_real),
        "num_generated": len(f_gen),
    }


def _kth_neighbour_distance(x, k):
    """Distance of each row of `x` to its k-th nearest other row."""
    radii = []
    for chunk in pairwise_distances_chunked(x, x):
        # Column 0 of each sorted row is the point itself (distance 0).
        radii.append(np.partition(chunk, k, axis=1)[:, k])
    return np.concatenate(radii)


def _count_inside(queries, centres, radii, per_query_radius=False):
    """For each query: how many balls (`centres`, `radii`) hold it; with
    `per_query_radius`, for each query ball (radius `radii[i]`): how many
    centres it holds."""
    counts = []
    start = 0
    for chunk in pairwise_distances_chunked(queries, centres):
        if per_query_radius:
            bound = radii[start : start + len(chunk), None]
        else:
            bound = radii[None, :]
        counts.append(np.sum(chunk <= bound, axis=1))
        start += len(chunk)
    return np.concatenate(counts)


def _feature_pair(real, generated, features, minimum, verbose):
    return feature_sets(
        {"real": real, "generated": generated}, features, minimum, verbose
    )


def feature_sets(sets, features, minimum, verbose):
    """The `Features` of each image set of `sets` (a dict: name -> images
    or `Features`), in its order, checked to come from one image shape and
    one network and to hold at least `minimum` images each."""
    extracted = {
        name: extract_features(
            images, features, verbose=verbose, what=f"{name} images"
        )
        for name, images in sets.items()
    }
    (first, f_first), *others = extracted.items()
    for name, f in others:
        if f.image_shape != f_first.image_shape:
            raise ValueError(
                f"The {first} images have shape {f_first.image_shape} and "
                f"the {name} ones {f.image_shape}: score images of one shape."
            )
        if f.model_name != f_first.model_name:
            raise ValueError(
                f"The {first} features come from {f_first.model_name!r} and "
                f"the {name} ones from {f.model_name!r}: use one network."
            )
    for name, f in extracted.items():
        if len(f) < minimum:
            raise ValueError(
                f"This score needs at least {minimum} {name} images, got "
                f"{len(f)}; a stable score needs hundreds "
                "(docs/sample_quality.md)."
            )
    return tuple(extracted.values())
