"""Stanford Dogs from an extracted tree: `Images/` plus the split lists."""

import io
import os
import shutil

import numpy as np
import pytest

import kvae.datasets
from kvae.datasets import DatasetError
from kvae.datasets import _stanford_dogs

DOGS = "stanford_dogs"
# Three breeds, two training and one test image each.
TREE = {
    "n02085620-Chihuahua": (
        ["n02085620_10621.jpg", "n02085620_10976.jpg"],
        ["n02085620_10074.jpg"],
    ),
    "n02085782-Japanese_spaniel": (
        ["n02085782_1059.jpg", "n02085782_1077.jpg"],
        ["n02085782_1039.jpg"],
    ),
    "n02085936-Maltese_dog": (
        ["n02085936_10073.jpg", "n02085936_10148.jpg"],
        ["n02085936_10130.jpg"],
    ),
}
BREEDS = ["Chihuahua", "Japanese spaniel", "Maltese dog"]


def _entries(split):
    column = 0 if split == "train" else 1
    return [
        f"{breed}/{name}"
        for breed, files in TREE.items()
        for name in files[column]
    ]


@pytest.fixture(scope="module")
def real_dogs(shared_dir):
    folder = os.path.join(shared_dir, DOGS)
    if not os.path.isdir(os.path.join(folder, "Images")):
        pytest.skip(f"{folder} has no Images/ folder")
    return folder


@pytest.fixture
def tree(real_dogs, tmp_path):
    """A small Stanford-layout tree of real JPEGs, without lists."""
    root = tmp_path / "dogs"
    for entry in _entries("train") + _entries("test"):
        target = root / "Images" / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(real_dogs, "Images", entry), target)
    return root


def _write_text_lists(root, folder=""):
    for split in ("train", "test"):
        path = root / folder / f"{split}_list.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(_entries(split)) + "\n")


def _mat_bytes(variables, compress):
    scipy_io = pytest.importorskip("scipy.io")
    buffer = io.BytesIO()
    scipy_io.savemat(buffer, variables, do_compression=compress)
    return buffer.getvalue()


def _file_list(entries):
    """Like the official lists: an (n, 1) cell of 1x1 cells of strings."""
    cells = np.empty((len(entries), 1), dtype=object)
    for i, entry in enumerate(entries):
        inner = np.empty((1, 1), dtype=object)
        inner[0, 0] = entry
        cells[i, 0] = inner
    return cells


def _write_mat_lists(root, compress):
    (root / "lists").mkdir(exist_ok=True)
    for split in ("train", "test"):
        entries = _entries(split)
        labels = [1 + list(TREE).index(e.split("/")[0]) for e in entries]
        data = _mat_bytes(
            {
                "file_list": _file_list(entries),
                "annotation_list": _file_list(
                    [e[: -len(".jpg")] for e in entries]
                ),
                "labels": np.asarray(labels, float)[:, None],
            },
            compress,
        )
        (root / "lists" / f"{split}_list.mat").write_bytes(data)


def _load(root, split="train", **kwargs):
    kwargs = {
        "manual_dir": str(root),
        "batch_size": 4,
        "with_labels": True,
        "shuffle": False,
        "augment": False,
        **kwargs,
    }
    ds = kvae.datasets.load(DOGS, split, **kwargs)
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in ds])
    return ds, np.concatenate(xs), np.concatenate(ys)


def _sorted_by_image(x, y):
    order = np.lexsort((x.reshape(len(x), -1).sum(axis=1), y))
    return x[order], y[order]


def test_text_lists(tree):
    _write_text_lists(tree)
    ds, x, y = _load(tree, "train")
    assert ds.class_names == BREEDS
    assert x.shape == (6, 64, 64, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() < 0.1 and 0.9 < x.max() <= 1.0
    assert np.bincount(y).tolist() == [2, 2, 2]
    _, x_test, y_test = _load(tree, "test", value_range=(-1, 1))
    assert sorted(y_test.tolist()) == [0, 1, 2]
    assert x_test.min() < -0.8 and x_test.max() > 0.8


@pytest.mark.parametrize("compress", [False, True])
def test_official_mat_lists_give_the_same_data(tree, tmp_path, compress):
    _write_text_lists(tree)
    _, x_text, y_text = _load(tree, "train+test")
    for name in ("train_list.txt", "test_list.txt"):
        (tree / name).unlink()
    _write_mat_lists(tree, compress)
    ds, x_mat, y_mat = _load(tree, "train+test")
    assert ds.class_names == BREEDS
    np.testing.assert_array_equal(x_mat, x_text)
    np.testing.assert_array_equal(y_mat, y_text)


def test_lists_in_a_lists_folder_and_env_var(tree, monkeypatch):
    _write_text_lists(tree, folder="lists")
    monkeypatch.setenv("KVAE_MANUAL_DIR", str(tree))
    ds = kvae.datasets.load(DOGS, "test", batch_size=8, augment=False)
    assert next(iter(ds)).shape == (3, 64, 64, 3)


def test_parent_folder_with_a_stanford_dogs_subfolder(tree, tmp_path):
    _write_text_lists(tree)
    parent = tmp_path / "all_data"
    parent.mkdir()
    tree.rename(parent / DOGS)
    _, x, _ = _load(parent, "test", image_size=32)
    assert x.shape == (3, 32, 32, 3)


def test_split_slices_are_class_mixed_and_disjoint(tree):
    _write_text_lists(tree)
    _, x, y = _load(tree, "train")
    _, x_a, y_a = _load(tree, "train[:50%]")
    _, x_b, y_b = _load(tree, "train[50%:]")
    assert len(x_a) == len(x_b) == 3
    # The list is sorted by breed; the fixed order mixes the breeds.
    assert len(set(y_a.tolist())) >= 2
    both = _sorted_by_image(
        np.concatenate([x_a, x_b]), np.concatenate([y_a, y_b])
    )
    np.testing.assert_array_equal(both[0], _sorted_by_image(x, y)[0])
    _, x_all, _ = _load(tree, "train+test")
    assert len(x_all) == 9
    _, x_some, _ = _load(tree, "train", max_examples=4)
    assert len(x_some) == 4


def test_training_defaults_augment_and_shuffle(tree):
    _write_text_lists(tree)
    ds = kvae.datasets.load(DOGS, "train", batch_size=6, manual_dir=str(tree))
    first, second = (np.asarray(next(iter(ds))) for _ in range(2))
    # A new shuffle and new flips/rotations each epoch.
    assert not np.array_equal(first, second)
    np.testing.assert_allclose(
        np.sort(first.mean(axis=(1, 2, 3))),
        np.sort(second.mean(axis=(1, 2, 3))),
        atol=0.05,
    )


def test_manual_dir_without_images_names_the_layout(tmp_path):
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    (empty / "train_list.txt").write_text("\n".join(_entries("train")))
    with pytest.raises(DatasetError) as info:
        kvae.datasets.load(DOGS, manual_dir=str(empty))
    message = str(info.value)
    assert "images.tar, annotation.tar, lists.tar are missing" in message
    assert f"{empty} has no Images/ folder" in message
    assert "Images/<wnid>-<breed>/<file>.jpg" in message
    assert "lists/train_list.mat" in message


def test_list_naming_missing_files(tree):
    _write_text_lists(tree)
    gone = [f"n02085620-Chihuahua/n02085620_{i}.jpg" for i in range(7)]
    with open(tree / "train_list.txt", "a") as f:
        f.write("\n".join(gone) + "\n")
    with pytest.raises(DatasetError) as info:
        _load(tree, "train")
    message = str(info.value)
    assert "7 of the 13 images" in message
    assert str(tree / "train_list.txt") in message
    assert gone[0] in message and gone[4] in message
    assert gone[5] not in message and ", ..." in message
    assert "Images/<wnid>-<breed>/<file>.jpg" in message
    # The test split's list is complete: it still loads.
    assert len(_load(tree, "test")[1]) == 3


def test_unknown_split_names_the_layout(tree):
    _write_text_lists(tree)
    with pytest.raises(DatasetError) as info:
        _load(tree, "validation")
    message = str(info.value)
    assert "Bad split 'validation'" in message
    assert "train (6 examples), test (3 examples)" in message
    assert "Images/<wnid>-<breed>/<file>.jpg" in message


def test_split_without_a_list(tree):
    (tree / "train_list.txt").write_text("\n".join(_entries("train")))
    with pytest.raises(DatasetError, match="Bad split 'test'") as info:
        _load(tree, "test")
    assert "test_list.txt" in str(info.value)
    (tree / "train_list.txt").unlink()
    with pytest.raises(DatasetError, match="no split lists"):
        _load(tree, "train")


@pytest.mark.parametrize(
    "name, content, expected",
    [
        (
            "train_list.txt",
            b"n02085620-Chihuahua/n02085620_10621.jpg\nnot a path\n",
            "line 2 is 'not a path'",
        ),
        ("train_list.txt", b"\xff\xfe\x00bad", "not UTF-8 text"),
        ("train_list.txt", b"\n\n", "names no images"),
        ("lists/train_list.mat", b"garbage" * 30, "not a MATLAB level-5"),
        (
            "lists/train_list.mat",
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(128, b" "),
            "v7.3 (HDF5)",
        ),
        ("lists/train_list.mat", b"MATLAB 5.0", "too short"),
    ],
)
def test_unreadable_list(tree, name, content, expected):
    path = tree / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    with pytest.raises(DatasetError) as info:
        _load(tree, "train")
    message = str(info.value)
    assert f"Cannot read the split list {path}" in message or (
        "names no images" in message
    )
    assert expected in message
    assert "Images/<wnid>-<breed>/<file>.jpg" in message


def test_mat_list_without_file_list(tree):
    (tree / "lists").mkdir()
    data = _mat_bytes({"labels": np.ones((3, 1))}, compress=False)
    (tree / "lists" / "train_list.mat").write_bytes(data)
    with pytest.raises(DatasetError, match="no 'file_list' variable"):
        _load(tree, "train")


def test_bounding_boxes_need_the_archives(tree):
    _write_text_lists(tree)
    with pytest.raises(ValueError, match="annotation.tar"):
        kvae.datasets.load(DOGS, manual_dir=str(tree), bounding_boxes=True)


@pytest.mark.slow
def test_the_real_folder(real_dogs):
    sizes = {"train": 12_000, "test": 8_580}
    for split, size in sizes.items():
        ds = kvae.datasets.load(
            DOGS,
            split,
            batch_size=1000,
            manual_dir=real_dogs,
            with_labels=True,
            augment=False,
        )
        assert len(ds.class_names) == 120
        assert ds.class_names[:2] == ["Chihuahua", "Japanese spaniel"]
        count, low, high, labels = 0, 1.0, 0.0, []
        for x, y in ds.as_numpy_iterator():
            assert x.shape[1:] == (64, 64, 3) and x.dtype == np.float32
            count += len(x)
            low, high = min(low, x.min()), max(high, x.max())
            labels.append(y)
        assert count == size
        assert low == 0.0 and high == 1.0
        per_breed = np.bincount(np.concatenate(labels), minlength=120)
        assert per_breed.min() > 0
        if split == "train":
            assert set(per_breed.tolist()) == {100}


def test_breed_names_of_both_routes():
    # The tree's folder names, and tfds' lowercased label names.
    assert _stanford_dogs.breed_name("n02085620-Chihuahua") == "Chihuahua"
    assert (
        _stanford_dogs.breed_name("n02085782-japanese_spaniel")
        == "japanese spaniel"
    )
    assert _stanford_dogs.breed_name("n02116738-African_hunting_dog") == (
        "African hunting dog"
    )


def test_damaged_images_are_named_with_their_list(tree):
    _write_text_lists(tree)
    train = _entries("train")
    images = tree / "Images"
    (images / train[0]).write_bytes(b"")
    data = (images / train[1]).read_bytes()
    (images / train[1]).write_bytes(data[: len(data) // 2])
    (images / train[2]).write_bytes(b"<html>not found</html>")
    with pytest.raises(DatasetError) as info:
        _load(tree, "train")
    message = str(info.value)
    assert "3 of the 6 images that " in message
    assert str(tree / "train_list.txt") in message
    assert f"{train[0]} (empty, 0 bytes)" in message
    assert f"{train[1]} (truncated JPEG, {len(data) // 2} bytes" in message
    assert f"{train[2]} (not a JPEG file, 22 bytes)" in message
    assert "extract images.tar again" in message
    assert f"delete their lines from {tree / 'train_list.txt'}" in message
    # The test split's images are intact: it still loads.
    assert len(_load(tree, "test")[1]) == 3


def test_lists_that_share_images_warn_with_the_count(tree):
    (tree / "train_list.txt").write_text("\n".join(_entries("train")))
    shared = _entries("train")[:2]
    (tree / "test_list.txt").write_text("\n".join(_entries("test") + shared))
    with pytest.warns(UserWarning) as record:
        _load(tree, "test")
    message = str(record[0].message)
    assert "2 images are in both" in message
    assert str(tree / "train_list.txt") in message
    assert str(tree / "test_list.txt") in message
    assert shared[0] in message
