import os

import keras
import numpy as np
import pytest

import kvae.datasets
from kvae.datasets import DatasetError

MNIST_TRAIN_COUNTS = [
    5923,
    6742,
    5958,
    6131,
    5842,
    5421,
    5918,
    6265,
    5851,
    5949,
]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(np.asarray(x))
        ys.append(np.asarray(y))
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize(
    "split, counts",
    [("train", MNIST_TRAIN_COUNTS), ("test", MNIST_TEST_COUNTS)],
)
def test_mnist_prepared_by_tfds_from_original_files(
    mnist_data_dir, split, counts
):
    ds = kvae.datasets.load(
        "mnist",
        split,
        batch_size=2000,
        data_dir=mnist_data_dir,
        with_labels=True,
        shuffle=False,
    )
    assert ds.class_names == [str(i) for i in range(10)]
    x, y = _collect(ds)
    assert x.shape == (sum(counts), 28, 28, 1) and x.dtype == np.float32
    assert y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), counts)
    expected_mean = 33.318 if split == "train" else 33.791
    assert x.mean() * 255 == pytest.approx(expected_mean, abs=1e-3)


def test_mnist_options(mnist_data_dir):
    ds = kvae.datasets.load(
        "mnist",
        "test[:300]",
        batch_size=128,
        data_dir=mnist_data_dir,
        value_range=(-1, 1),
        image_size=32,
    )
    batches = [np.asarray(x) for x in ds]
    assert [b.shape for b in batches] == [(128, 32, 32, 1)] * 2 + [
        (44, 32, 32, 1)
    ]
    x = np.concatenate(batches)
    assert x.min() == -1.0 and x.max() == 1.0


def test_max_examples_and_shuffle(mnist_data_dir):
    def first(seed, shuffle=None, split="train"):
        ds = kvae.datasets.load(
            "mnist",
            split,
            batch_size=64,
            data_dir=mnist_data_dir,
            max_examples=500,
            seed=seed,
            shuffle=shuffle,
        )
        return [np.asarray(x) for x in ds]

    a, b, c = first(1), first(1), first(2)
    assert sum(len(x) for x in a) == 500
    np.testing.assert_array_equal(a[0], b[0])  # same seed, same order
    assert not np.array_equal(a[0], c[0])
    # The same 500 examples, in another order.
    assert (
        np.sort(np.concatenate(a).ravel()).tolist()
        == np.sort(np.concatenate(c).ravel()).tolist()
    )
    # Test splits are not shuffled by default.
    np.testing.assert_array_equal(
        first(1, split="test")[0], first(2, split="test")[0]
    )


def test_binarization(mnist_data_dir):
    def epochs(binarize, **kwargs):
        ds = kvae.datasets.load(
            "mnist",
            "test[:256]",
            batch_size=256,
            data_dir=mnist_data_dir,
            binarize=binarize,
            **kwargs,
        )
        return [np.asarray(next(iter(ds))) for _ in range(2)]

    grey = epochs(None)[0]
    dynamic = epochs("dynamic", seed=0)
    static = epochs("static")
    for x in dynamic + static:
        assert set(np.unique(x)) == {0.0, 1.0}
        # A Bernoulli sample of the grey image: the mean is kept.
        assert x.mean() == pytest.approx(grey.mean(), rel=0.02)
    assert not np.array_equal(dynamic[0], dynamic[1])  # new every epoch
    np.testing.assert_array_equal(static[0], static[1])  # fixed
    # Static does not depend on order: same images shuffled, same samples.
    shuffled = epochs("static", shuffle=True, seed=3)[0]
    ordered = epochs("static", seed=3)
    assert not np.array_equal(shuffled, ordered[0])
    assert {x.tobytes() for x in shuffled} == {x.tobytes() for x in ordered[0]}
    # `seed` picks another fixed sample.
    np.testing.assert_array_equal(ordered[0], ordered[1])
    assert not np.array_equal(ordered[0], static[0])


def test_kmnist_test_split_from_partial_download(shared_dir):
    manual = os.path.join(shared_dir, "kmnist")
    ds = kvae.datasets.load(
        "kmnist", "test", batch_size=5000, manual_dir=manual, with_labels=True
    )
    assert ds.class_names[:3] == ["o", "ki", "su"]
    x, y = _collect(ds)
    assert x.shape == (10000, 28, 28, 1)
    assert x.min() == 0.0 and x.max() == 1.0
    assert x.mean() * 255 == pytest.approx(47.06, abs=0.01)
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)
    sliced = kvae.datasets.load(
        "kmnist", "test[:8000]", batch_size=8000, manual_dir=manual
    )
    assert sum(len(b) for b in sliced) == 8000


def test_kmnist_from_env_var_and_parent_folder(shared_dir, monkeypatch):
    # $KVAE_MANUAL_DIR may name a folder that holds a 'kmnist' subfolder.
    monkeypatch.setenv("KVAE_MANUAL_DIR", shared_dir)
    ds = kvae.datasets.load("kmnist", "test[:10]", batch_size=10)
    assert np.asarray(next(iter(ds))).shape == (10, 28, 28, 1)


def test_kmnist_train_names_the_missing_file(shared_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("KVAE_MANUAL_DIR", shared_dir)
    with pytest.raises(DatasetError) as info:
        kvae.datasets.load("kmnist", "train", data_dir=str(tmp_path))
    message = str(info.value)
    folder = os.path.join(shared_dir, "kmnist")
    assert "train-images-idx3-ubyte.gz is missing from" in message
    assert f"put it in {folder}" in message
    assert "bdb82020997e1d708af4cf47b453dcf7" in message  # its md5
    assert "manual_dir=" in message and "KVAE_MANUAL_DIR" in message
    assert "serve these splits: test" in message
    # Only the missing file is asked for.
    assert "t10k-images-idx3-ubyte.gz  (" not in message


def test_fit_on_every_backend(shared_dir):
    """The batches feed `model.fit` on the current Keras backend."""
    ds = kvae.datasets.load(
        "kmnist",
        "test[:256]",
        batch_size=64,
        with_labels=True,
        manual_dir=os.path.join(shared_dir, "kmnist"),
    )
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    # shuffle=False: the dataset shuffles itself (Keras warns otherwise).
    history = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()
