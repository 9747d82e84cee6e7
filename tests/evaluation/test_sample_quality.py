"""The sample-quality scores against NumPy/SciPy references, and their
behaviour on real images."""

import keras
import numpy as np
import pytest
import scipy.linalg
from scipy.ndimage import gaussian_filter

import kvae
from kvae.evaluation import Features
from kvae.evaluation import sample_quality
from tests.helpers import mnist_images


def as_features(values):
    return Features(np.asarray(values, "float64"), (1, 1, 1), "test")


def reference_fd(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(scipy.linalg.sqrtm(cov_a @ cov_b))
    return np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root)


def reference_mmd(x, y):
    d = x.shape[1]

    def kernel(a, b):
        return (a @ b.T / d + 1) ** 3

    m = len(x)
    off = ~np.eye(m, dtype=bool)
    return (
        kernel(x, x)[off].mean()
        + kernel(y, y)[off].mean()
        - 2 * kernel(x, y).mean()
    )


def reference_precision_recall(real, fake, k):
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.sort(d, axis=1)[:, k]

    d = np.linalg.norm(real[:, None] - fake[None], axis=-1)  # (real, fake)
    r_real, r_fake = radii(real), radii(fake)
    precision = np.mean((d <= r_real[:, None]).any(axis=0))
    recall = np.mean((d <= r_fake[None, :]).any(axis=1))
    density = (d <= r_real[:, None]).sum() / (k * len(fake))
    coverage = np.mean((d <= r_real[:, None]).any(axis=1))
    return precision, recall, density, coverage


RNG = np.random.default_rng(0)
A = RNG.standard_normal((300, 6))
B = RNG.standard_normal((250, 6)) * 1.3 + 0.4


def test_frechet_distance_matches_scipy():
    got = kvae.evaluation.frechet_distance(as_features(A), as_features(B))
    assert got.value == pytest.approx(reference_fd(A, B), rel=1e-8)
    assert (got.num_real, got.num_generated) == (300, 250)
    assert float(got) == got.value


def test_frechet_distance_of_a_set_with_itself_is_zero():
    got = kvae.evaluation.frechet_distance(as_features(A), as_features(A))
    assert got.value == pytest.approx(0.0, abs=1e-9)


def test_kernel_distance_matches_the_unbiased_mmd():
    got = kvae.evaluation.kernel_distance(
        as_features(A[:200]),
        as_features(B[:200]),
        num_subsets=3,
        subset_size=200,
    )
    # Subsets as large as the sets are the sets themselves.
    assert got.value == pytest.approx(reference_mmd(A[:200], B[:200]))
    assert got.spread == pytest.approx(0.0, abs=1e-9)


def test_kernel_distance_is_unbiased():
    same = kvae.evaluation.kernel_distance(
        as_features(RNG.standard_normal((400, 6))),
        as_features(RNG.standard_normal((400, 6))),
        num_subsets=50,
        subset_size=100,
    )
    shifted = kvae.evaluation.kernel_distance(
        as_features(A), as_features(B), num_subsets=50, subset_size=100
    )
    # Two draws of one distribution: about 0, well inside the spread;
    # FD would be biased upwards here.
    assert abs(same.value) < same.spread
    assert shifted.value > 3 * shifted.spread


def test_precision_and_recall_match_a_brute_force_reference():
    got = kvae.evaluation.precision_recall(
        as_features(A[:120]), as_features(B[:90]), k=3
    )
    expected = reference_precision_recall(A[:120], B[:90], 3)
    assert (got.precision, got.recall, got.density, got.coverage) == (
        pytest.approx(expected)
    )


def test_precision_and_recall_are_one_for_identical_sets_and_fall():
    same = kvae.evaluation.precision_recall(as_features(A), as_features(A))
    assert (same.precision, same.recall, same.coverage) == (1.0, 1.0, 1.0)
    shifted = kvae.evaluation.precision_recall(
        as_features(A), as_features(A + 3.0)
    )
    assert shifted.precision < 0.2 and shifted.recall < 0.2


def test_scores_grow_with_blur_and_noise_on_real_images(shared_data):
    x = mnist_images(shared_data, 1000, split="test")
    real, other = x[:500], x[500:]
    reference = kvae.evaluation.extract_features(real)
    fds, kids = [], []
    for sigma in (0.0, 0.5, 1.0, 2.0):
        blurred = gaussian_filter(other, sigma=(0, sigma, sigma, 0))
        scores = kvae.evaluation.sample_scores(
            reference, blurred, num_subsets=20, subset_size=200
        )
        fds.append(scores["fd"])
        kids.append(scores["kid"])
    assert fds == sorted(fds) and kids == sorted(kids), (fds, kids)
    noisy = [
        kvae.evaluation.frechet_distance(
            reference,
            np.clip(other + s * RNG.standard_normal(other.shape), 0, 1),
        ).value
        for s in (0.05, 0.1, 0.2)
    ]
    assert fds[0] < noisy[0] < noisy[1] < noisy[2], noisy


def test_sample_scores_gives_every_score_as_plain_numbers():
    scores = kvae.evaluation.sample_scores(as_features(A), as_features(B))
    assert set(scores) == {
        "fd",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "density",
        "coverage",
        "num_real",
        "num_generated",
    }
    assert all(isinstance(v, (int, float)) for v in scores.values())


X = np.random.default_rng(1).random((10, 28, 28, 1)).astype("float32")


@pytest.mark.parametrize(
    "real, generated, match",
    [
        (X, X[:1], "at least 2 generated images"),
        (X, np.random.rand(10, 32, 32, 1), "shape"),
        (X, X * 255, "divide by 255"),
        (X, list(X), "Python list"),
        (X[0], X, "add the batch axis"),
        (X, X.copy() * np.nan, "NaN"),
    ],
)
def test_bad_image_sets_are_refused_before_any_work(real, generated, match):
    with pytest.raises(ValueError, match=match):
        kvae.evaluation.frechet_distance(real, generated)


def test_a_feature_model_that_does_not_take_the_images_is_named():
    other = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Conv2D(2, 3)], name="rgb_only"
    )
    with pytest.raises(ValueError, match="'rgb_only' does not take"):
        kvae.evaluation.kernel_distance(X, X, features=other)


def test_precision_recall_needs_more_images_than_k():
    with pytest.raises(ValueError, match="at least 4 real images"):
        sample_quality.precision_recall(X[:3], X, k=3)
