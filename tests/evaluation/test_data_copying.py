"""`kvae.evaluation.data_copying` (Meehan et al.'s C_T) against a NumPy
reference and on generators that copy, generalise and underfit."""

import numpy as np
import pytest

import kvae
from kvae.evaluation import Features

RNG = np.random.default_rng(0)
TRAIN = RNG.standard_normal((1500, 4))
HELD_OUT = RNG.standard_normal((400, 4))


def as_features(values):
    return Features(np.asarray(values, "float64"), (1, 1, 1), "test")


def copying(generated, **kwargs):
    return kvae.evaluation.data_copying(
        as_features(TRAIN),
        as_features(HELD_OUT),
        as_features(generated),
        **kwargs,
    )


def reference_z(train, held_out, generated):
    """One cell: the Mann-Whitney z-score by counting pairs."""

    def nearest(x):
        d = np.linalg.norm(x[:, None, :] - train[None, :, :], axis=-1)
        return d.min(axis=1)

    g, h = nearest(generated), nearest(held_out)
    u = np.sum(g[:, None] > h[None, :]) + 0.5 * np.sum(g[:, None] == h[None, :])
    m, n = len(g), len(h)
    return (u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12)


def test_one_cell_equals_the_reference_z_score():
    generated = RNG.standard_normal((300, 4)) * 1.1
    result = copying(generated, num_cells=1)
    assert result.cells_used == 1
    assert result.statistic == pytest.approx(
        reference_z(TRAIN, HELD_OUT, generated), rel=1e-9
    )
    assert (result.num_train, result.num_held_out, result.num_generated) == (
        1500,
        400,
        300,
    )


def test_fresh_draws_copies_and_spread_out_draws():
    fresh = copying(RNG.standard_normal((600, 4)))
    copies = copying(TRAIN[:600] + 0.01 * RNG.standard_normal((600, 4)))
    spread = copying(1.5 * RNG.standard_normal((600, 4)))
    assert abs(fresh.statistic) < 3
    assert copies.statistic < -5
    assert spread.statistic > 3
    assert fresh.cells_used == fresh.num_cells == 10


def test_cells_with_few_generated_images_are_left_out():
    # All generated images near one training point: one cell only.
    near_one = TRAIN[0] + 0.01 * RNG.standard_normal((50, 4))
    result = copying(near_one, num_cells=10, min_per_cell=20)
    assert result.cells_used == 1
    assert result.statistic < 0


def test_on_images_through_the_default_features():
    rng = np.random.default_rng(2)
    images = rng.random((160, 16, 16, 1)).astype("float32")
    result = kvae.evaluation.data_copying(
        images[:100],
        images[100:130],
        images[:30],
        num_cells=2,
        min_per_cell=5,
        verbose=0,
    )
    assert result.statistic < 0  # the generated set is the training set


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_cells": 0}, "num_cells"),
        ({"min_per_cell": 0}, "min_per_cell"),
        ({"min_per_cell": 10_000}, "No cell holds 10000 generated images"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        copying(RNG.standard_normal((100, 4)), **kwargs)


def test_sets_of_different_shapes_are_refused():
    a = np.zeros((40, 8, 8, 1), "float32")
    b = np.zeros((40, 9, 9, 1), "float32")
    with pytest.raises(ValueError, match="held-out ones"):
        kvae.evaluation.data_copying(a, b, a, num_cells=2)


def test_too_few_training_images_for_the_cells():
    with pytest.raises(ValueError, match="at least 20 training images"):
        kvae.evaluation.data_copying(
            as_features(TRAIN[:10]),
            as_features(HELD_OUT),
            as_features(HELD_OUT),
        )
