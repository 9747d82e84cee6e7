"""Argument checks shared by `load` and `load_numpy`."""

from kvae.datasets import _catalog
from kvae.datasets.errors import DatasetError


def check_name(name):
    if name not in _catalog.KNOWN_NAMES:
        known = ", ".join(repr(n) for n in _catalog.KNOWN_NAMES)
        raise DatasetError(
            f"Unknown dataset {name!r}. Known datasets: {known} ('images' "
            "loads a folder of your own images: directory=...)."
        )


def check_value_range(value_range):
    try:
        pair = tuple(float(v) for v in value_range)
    except TypeError:
        pair = None
    if pair not in ((0.0, 1.0), (-1.0, 1.0)):
        raise ValueError(
            f"value_range must be (0, 1) or (-1, 1), got {value_range!r}."
        )
    return pair


def check_binarize(name, binarize, allowed=(None, "static", "dynamic")):
    if binarize not in allowed:
        raise ValueError(
            f"binarize must be one of {allowed}, got {binarize!r}."
        )
    if binarize is not None and name not in _catalog.GRAYSCALE_28:
        raise ValueError(
            f"binarize applies to the grayscale datasets "
            f"{_catalog.GRAYSCALE_28}, not {name!r}."
        )


def check_positive(label, value, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{label} must be a positive int, got {value!r}.")
