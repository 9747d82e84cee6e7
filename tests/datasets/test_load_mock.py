"""Loader logic on the tfds builder route, with `tfds.testing.mock_data`
(random examples with the real feature specs; offline)."""

import numpy as np
import pytest

import kvae.datasets
from kvae.datasets import _pipeline


@pytest.fixture
def mock_tfds(monkeypatch):
    import tensorflow_datasets as tfds

    # Under mock_data nothing is prepared; say it is, so the route goes
    # straight to `as_dataset` (which mock_data replaces).
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda s: True)
    with tfds.testing.mock_data(num_examples=8):
        yield


@pytest.fixture
def augment_calls(monkeypatch):
    calls = []
    original = _pipeline.augment

    def spy(image, seed):
        calls.append(image.shape)
        return original(image, seed)

    monkeypatch.setattr(_pipeline, "augment", spy)
    return calls


@pytest.mark.parametrize("bounding_boxes", [False, True])
def test_stanford_dogs(mock_tfds, bounding_boxes, augment_calls):
    ds = kvae.datasets.load(
        "stanford_dogs",
        "train",
        batch_size=3,
        with_labels=True,
        bounding_boxes=bounding_boxes,
        seed=0,
    )
    assert len(ds.class_names) == 120
    batches = [(np.asarray(x), np.asarray(y)) for x, y in ds]
    assert [x.shape for x, _ in batches] == [(3, 64, 64, 3)] * 2 + [
        (2, 64, 64, 3)
    ]
    x = np.concatenate([x for x, _ in batches])
    y = np.concatenate([y for _, y in batches])
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert x.std() > 0.1  # random pixels, not a constant fill
    assert y.dtype == np.int64 and ((0 <= y) & (y < 120)).all()
    assert augment_calls, "train splits of dogs are augmented by default"


def test_stanford_dogs_test_split_options(mock_tfds, augment_calls):
    ds = kvae.datasets.load(
        "stanford_dogs",
        "test[:50%]",
        batch_size=8,
        value_range=(-1, 1),
        image_size=48,
    )
    x = np.asarray(next(iter(ds)))
    assert x.shape == (8, 48, 48, 3)
    assert -1.0 <= x.min() < -0.9 and 0.9 < x.max() <= 1.0
    assert not augment_calls, "test splits are not augmented by default"
    # Not shuffled, not augmented: every epoch is identical.
    np.testing.assert_array_equal(x, np.asarray(next(iter(ds))))


def test_augmented_epochs_differ(mock_tfds):
    ds = kvae.datasets.load(
        "stanford_dogs", "train", batch_size=8, shuffle=False, seed=0
    )
    first, second = (np.asarray(next(iter(ds))) for _ in range(2))
    assert not np.array_equal(first, second)
    again = kvae.datasets.load(
        "stanford_dogs", "train", batch_size=8, shuffle=False, seed=0
    )
    # The same seed repeats the same sequence of epochs.
    np.testing.assert_array_equal(first, np.asarray(next(iter(again))))


@pytest.mark.parametrize("name", ["mnist", "kmnist"])
def test_grayscale_datasets(mock_tfds, name):
    ds = kvae.datasets.load(
        name, "train", batch_size=4, binarize="dynamic", with_labels=True
    )
    x, y = (np.asarray(t) for t in next(iter(ds)))
    assert x.shape == (4, 28, 28, 1) and x.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert len(ds.class_names) == 10
    x, y = kvae.datasets.load_numpy(name, "test")
    assert x.shape == (8, 28, 28, 1) and y.shape == (8,)
