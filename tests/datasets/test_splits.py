import pytest

from kvae.datasets import DatasetError
from kvae.datasets._splits import resolve_split

SIZES = {"train": 60000, "test": 10000}


@pytest.mark.parametrize(
    "split, expected",
    [
        ("train", [("train", 0, 60000)]),
        ("test[:8000]", [("test", 0, 8000)]),
        ("train[:90%]", [("train", 0, 54000)]),
        ("train[90%:]", [("train", 54000, 60000)]),
        ("test[-1000:]", [("test", 9000, 10000)]),
        ("test[10:20]+train[:1%]", [("test", 10, 20), ("train", 0, 600)]),
        ("all", [("train", 0, 60000), ("test", 0, 10000)]),
    ],
)
def test_tfds_split_semantics(split, expected):
    assert resolve_split("mnist", split, SIZES) == expected


@pytest.mark.parametrize(
    "split, match",
    [
        ("trian", "Unknown split 'trian'"),
        ("validation", "Unknown split 'validation'"),
        ("train[:200%]", "percent slice boundaries"),
        ("train[", "Unrecognized split format"),
        ("test[20000:]", "incompatible with 10000 examples"),
        ("test[5:5]", "selects no examples"),
        (None, "expected a str"),
    ],
)
def test_bad_split_strings(split, match):
    with pytest.raises(DatasetError, match=match) as info:
        resolve_split("mnist", split, SIZES)
    # Every message shows the splits and the syntax.
    assert "train (60,000 examples), test (10,000 examples)" in str(info.value)
    assert "https://www.tensorflow.org/datasets/splits" in str(info.value)
