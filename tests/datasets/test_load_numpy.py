import os

import numpy as np
import pytest

import kvae.datasets


def test_mnist_arrays_from_original_files(shared_dir):
    x, y = kvae.datasets.load_numpy("mnist", manual_dir=shared_dir)
    assert x.shape == (60000, 28, 28, 1) and x.dtype == np.float32
    assert y.shape == (60000,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(
        np.bincount(y),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    )
    np.testing.assert_array_equal(y[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])


def test_kmnist_test_split_slices_and_options(shared_dir):
    manual = os.path.join(shared_dir, "kmnist")
    x, y = kvae.datasets.load_numpy("kmnist", "test", manual_dir=manual)
    assert x.shape == (10000, 28, 28, 1)
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)
    head, y_head = kvae.datasets.load_numpy(
        "kmnist", "test[:8000]", manual_dir=manual, value_range=(-1, 1)
    )
    assert head.shape == (8000, 28, 28, 1)
    np.testing.assert_allclose(head, x[:8000] * 2 - 1, atol=1e-6)
    np.testing.assert_array_equal(y_head, y[:8000])
    tail, _ = kvae.datasets.load_numpy(
        "kmnist", "test[90%:]", manual_dir=manual, max_examples=5
    )
    np.testing.assert_array_equal(tail, x[9000:9005])


def test_static_binarization_is_fixed(shared_dir):
    manual = os.path.join(shared_dir, "kmnist")
    a, _ = kvae.datasets.load_numpy(
        "kmnist", "test[:500]", manual_dir=manual, binarize="static"
    )
    b, _ = kvae.datasets.load_numpy(
        "kmnist", "test[:500]", manual_dir=manual, binarize="static"
    )
    c, _ = kvae.datasets.load_numpy(
        "kmnist", "test[:500]", manual_dir=manual, binarize="static", seed=1
    )
    grey, _ = kvae.datasets.load_numpy(
        "kmnist", "test[:500]", manual_dir=manual
    )
    assert set(np.unique(a)) == {0.0, 1.0}
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.mean() == pytest.approx(grey.mean(), rel=0.02)


def test_reads_a_prepared_tfds_dataset(mnist_data_dir):
    x, y = kvae.datasets.load_numpy(
        "mnist", "test", data_dir=mnist_data_dir, max_examples=1000
    )
    assert x.shape == (1000, 28, 28, 1) and x.dtype == np.float32
    assert y.shape == (1000,) and set(np.unique(y)) == set(range(10))
