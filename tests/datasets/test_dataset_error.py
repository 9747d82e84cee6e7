"""Every failure gives a `DatasetError` that says what to do."""

import os

import pytest

import kvae.datasets
from kvae.datasets import DatasetError
from kvae.datasets import _sources

MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


@pytest.fixture
def no_tfds_download(monkeypatch):
    """Fails the test if tensorflow-datasets is asked to download."""
    import tensorflow_datasets as tfds

    def forbidden(*args, **kwargs):
        raise AssertionError("download_and_prepare must not be called")

    monkeypatch.setattr(
        tfds.core.DatasetBuilder, "download_and_prepare", forbidden
    )


@pytest.mark.parametrize(
    "loader", [kvae.datasets.load, kvae.datasets.load_numpy]
)
def test_unknown_name_lists_known_ones(loader):
    with pytest.raises(DatasetError) as info:
        loader("fashion_mnist")
    message = str(info.value)
    assert "Unknown dataset 'fashion_mnist'" in message
    for name in ("'mnist'", "'kmnist'", "'stanford_dogs'", "'images'"):
        assert name in message


def test_isinstance_value_error():
    assert issubclass(DatasetError, ValueError)


@pytest.mark.parametrize(
    "loader", [kvae.datasets.load, kvae.datasets.load_numpy]
)
def test_no_network_and_no_local_files(loader, tmp_path, no_tfds_download):
    # The autouse fixture blocks sockets, so the server probe fails as it
    # would offline; tfds is never asked to download.
    with pytest.raises(DatasetError) as info:
        loader("mnist", "test", data_dir=str(tmp_path))
    message = str(info.value)
    assert "storage.googleapis.com cannot be reached" in message
    assert f"not prepared in data_dir '{tmp_path}'" in message
    for name in MNIST_FILES:
        assert name in message
    assert "manual_dir='/path/to/folder'" in message
    assert "KVAE_MANUAL_DIR" in message


def test_no_network_probe_is_what_decides(tmp_path, monkeypatch):
    """Stubbing the probe gives the same error without touching sockets."""
    monkeypatch.setattr(_sources, "network_available", lambda host: False)
    with pytest.raises(DatasetError, match="cannot be reached"):
        kvae.datasets.load("stanford_dogs", data_dir=str(tmp_path))


def test_empty_manual_dir_lists_every_file(tmp_path, no_tfds_download):
    manual = tmp_path / "manual"
    manual.mkdir()
    with pytest.raises(DatasetError) as info:
        kvae.datasets.load(
            "stanford_dogs", manual_dir=str(manual), data_dir=str(tmp_path)
        )
    message = str(info.value)
    assert "images.tar, annotation.tar, lists.tar are missing" in message
    assert "found there: nothing" in message
    assert (
        "http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar" in message
    )
    assert f"put them in {manual}" in message


def test_manual_dir_that_does_not_exist(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        kvae.datasets.load_numpy("mnist", manual_dir=str(tmp_path / "nope"))


def test_truncated_file(copy_of, tmp_path):
    folder = copy_of("mnist", ["t10k-images-idx3-ubyte.gz", MNIST_FILES[3]])
    path = folder / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(DatasetError) as info:
        kvae.datasets.load_numpy("mnist", "test", manual_dir=str(folder))
    message = str(info.value)
    assert f"{path} is truncated: 100,000 bytes, expected 1,648,877" in message
    assert "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images" in (
        message
    )


def test_truncated_file_before_tfds_prepares(
    copy_of, tmp_path, no_tfds_download
):
    # All four files present: the tfds route checks them before preparing.
    folder = copy_of("mnist", MNIST_FILES)
    path = folder / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(
        DatasetError, match="train-labels-idx1-ubyte.gz is truncated"
    ):
        kvae.datasets.load(
            "mnist", manual_dir=str(folder), data_dir=str(tmp_path / "tfds")
        )


def test_truncated_dogs_archive(tmp_path, no_tfds_download):
    manual = tmp_path / "dogs"
    manual.mkdir()
    for name in ("images.tar", "annotation.tar", "lists.tar"):
        (manual / name).write_bytes(b"0" * 1000)
    with pytest.raises(DatasetError, match="images.tar is truncated"):
        kvae.datasets.load(
            "stanford_dogs", manual_dir=str(manual), data_dir=str(tmp_path)
        )


def test_wrong_checksum(copy_of):
    folder = copy_of("mnist", MNIST_FILES[2:])
    path = folder / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as info:
        kvae.datasets.load(
            "mnist",
            "test",
            manual_dir=str(folder),
            data_dir=str(folder.parent / "tfds"),
        )
    message = str(info.value)
    assert f"{path} has the wrong checksum" in message
    assert "expected ec29112dd5afa0611ce80d1b7f02629c" in message


def test_another_datasets_file_of_the_same_name(shared_dir):
    # MNIST's files have the names KMNIST expects.
    with pytest.raises(DatasetError, match="the size of mnist's") as info:
        kvae.datasets.load_numpy(
            "kmnist", "test", manual_dir=os.path.join(shared_dir, "mnist")
        )
    # It points at the right folder, not at moving files into this one.
    assert "looks like the mnist folder" in str(info.value)
    assert "and put it in" not in str(info.value)


@pytest.mark.parametrize("split", ["trian", "test[:200%]", "test[9:9]"])
def test_bad_split_before_any_file_access(split, tmp_path, no_tfds_download):
    with pytest.raises(DatasetError, match="Bad split") as info:
        kvae.datasets.load("mnist", split, data_dir=str(tmp_path / "x"))
    assert "Splits of 'mnist': train (60,000 examples)" in str(info.value)
    with pytest.raises(DatasetError, match="Bad split"):
        kvae.datasets.load_numpy("kmnist", split)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"value_range": (0, 255)}, "value_range"),
        ({"binarize": "yes"}, "binarize"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_examples": -1}, "max_examples"),
        ({"bounding_boxes": True}, "bounding_boxes"),
        ({"directory": "/tmp"}, "directory= is for name='images'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kvae.datasets.load("mnist", **kwargs)


def test_bad_arguments_numpy_route():
    with pytest.raises(DatasetError, match="load_numpy serves"):
        kvae.datasets.load_numpy("stanford_dogs")
    with pytest.raises(ValueError, match="binarize='dynamic'"):
        kvae.datasets.load_numpy("mnist", binarize="dynamic")
    with pytest.raises(ValueError, match="grayscale"):
        kvae.datasets.load("stanford_dogs", binarize="static")
