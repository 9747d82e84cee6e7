import csv
import os
import shutil

import numpy as np
import pytest

import kvae.datasets
from kvae.datasets import DatasetError

# Small JPEGs of shared/data/stanford_dogs_subset, for quick tests.
SMALL = [
    "n02089078_black-and-tan_coonhound.JPEG",
    "n02102973_Irish_water_spaniel.JPEG",
    "n02095889_Sealyham_terrier.JPEG",
]
GRAYSCALE = "n02096051_Airedale.JPEG"


@pytest.fixture(scope="module")
def dogs(shared_dir):
    return os.path.join(shared_dir, "stanford_dogs_subset")


def _collect(ds):
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_dog_folder(dogs):
    ds = kvae.datasets.load(
        "images",
        directory=dogs,
        batch_size=50,
        with_labels=True,
        augment=False,
        shuffle=False,
    )
    with open(os.path.join(dogs, "MANIFEST.csv")) as f:
        wnids = sorted(row["wnid"] for row in csv.DictReader(f))
    # One class per file-name WordNet id, in tfds stanford_dogs' order.
    assert ds.class_names == wnids and len(wnids) == 120
    x, y = _collect(ds)
    assert x.shape == (120, 64, 64, 3) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert sorted(y.tolist()) == list(range(120))
    # The grayscale photo comes out as RGB with equal channels.
    grey = x[y == wnids.index(GRAYSCALE.split("_")[0])][0]
    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    colour = x[y == 0][0]
    assert not np.array_equal(colour[..., 0], colour[..., 2])


def test_dog_folder_splits_are_disjoint_and_class_mixed(dogs):
    def labels(split):
        ds = kvae.datasets.load(
            "images", split, directory=dogs, with_labels=True, image_size=16
        )
        return set(_collect(ds)[1].tolist())

    train, val = labels("train[:90%]"), labels("train[90%:]")
    assert len(train) == 108 and len(val) == 12 and not train & val
    assert max(val) - min(val) > 12  # not the last 12 classes
    with pytest.raises(DatasetError, match="Unknown split 'test'"):
        kvae.datasets.load("images", "test", directory=dogs)


def test_value_range_size_and_augmentation(copy_of):
    folder = copy_of("stanford_dogs_subset/imagenet_sample_images", SMALL)
    ds = kvae.datasets.load(
        "images", directory=folder, value_range=(-1, 1), image_size=32, seed=4
    )
    epochs = [np.asarray(next(iter(ds))) for _ in range(6)]
    assert epochs[0].shape == (3, 32, 32, 3)
    assert epochs[0].min() >= -1.0 and epochs[0].max() <= 1.0
    assert epochs[0].min() < -0.5 and epochs[0].max() > 0.5
    # Train: shuffled and augmented anew each epoch.
    assert len({e.tobytes() for e in epochs}) == 6


def test_unreadable_files_are_skipped_with_a_count(copy_of):
    folder = copy_of("stanford_dogs_subset/imagenet_sample_images", SMALL)
    (folder / "notes.txt").write_text("not an image, not counted")
    (folder / "broken.jpg").write_text("this is not a JPEG")
    (folder / "empty.png").write_bytes(b"")
    good = (folder / SMALL[0]).read_bytes()
    (folder / "n02089078_cut.JPEG").write_bytes(good[: len(good) // 2])
    with pytest.warns(UserWarning, match=r"Skipped 3 of 6 image files") as w:
        paths, labels, names = kvae.datasets.scan_image_folder(folder)
    message = str(w[0].message)
    for name in ("broken.jpg", "empty.png", "n02089078_cut.JPEG"):
        assert name in message
    assert [os.path.basename(p) for p in paths] == sorted(SMALL)
    with pytest.warns(UserWarning, match="Skipped 3"):
        ds = kvae.datasets.load("images", directory=folder, batch_size=8)
    assert np.asarray(next(iter(ds))).shape == (3, 64, 64, 3)


def test_labels_from_subfolders(copy_of, tmp_path):
    source = "stanford_dogs_subset/imagenet_sample_images"
    copy_of(source, SMALL[:2], folder="pets/dogs")
    copy_of(source, SMALL[2:], folder="pets/other")
    deeper = tmp_path / "pets" / "dogs" / "more"
    deeper.mkdir()
    shutil.copy(tmp_path / "pets" / "dogs" / SMALL[0], deeper / "again.jpg")
    paths, labels, names = kvae.datasets.scan_image_folder(tmp_path / "pets")
    assert names == ["dogs", "other"]
    assert labels == [0, 0, 0, 1]  # recursion below the class folder
    assert os.path.basename(paths[0]) == SMALL[0]


def test_labels_without_subfolders_or_wnids(copy_of, tmp_path):
    folder = copy_of("stanford_dogs_subset/imagenet_sample_images", SMALL[:2])
    os.rename(folder / SMALL[0], folder / "my_dog.jpg")
    _, labels, names = kvae.datasets.scan_image_folder(folder)
    assert labels == [0, 0] and names == [""]


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "readme.md").write_text("no images here")
    (tmp_path / "sub").mkdir()
    with pytest.raises(DatasetError, match="holds no image files"):
        kvae.datasets.load("images", directory=tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        kvae.datasets.load("images", directory=tmp_path / "nope")
    with pytest.raises(DatasetError, match="needs directory="):
        kvae.datasets.load("images")
    with pytest.raises(
        DatasetError, match=r"readme.md' is a file, not a folder.*holds the"
    ):
        kvae.datasets.load("images", directory=tmp_path / "readme.md")


def test_folder_of_only_unreadable_files(tmp_path):
    (tmp_path / "a.jpg").write_text("nope")
    with pytest.warns(UserWarning, match="Skipped 1 of 1"):
        with pytest.raises(DatasetError, match="None of the 1 image files"):
            kvae.datasets.load("images", directory=tmp_path)
