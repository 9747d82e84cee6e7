"""`shared_examples`: how many examples two splits of a dataset share."""

from kvae.datasets._catalog import DATASETS
from kvae.datasets._splits import resolve_split
from kvae.datasets.errors import DatasetError


def shared_examples(name, split_a, split_b):
    """How many examples of dataset `name` both splits hold, by
    tensorflow-datasets' own reading of the split strings (`"test[:9000]"`
    and `"test"` share 9,000); 0 where the split sizes are not known before
    loading (an image folder) or a split is malformed (loading says so).

    Example:

    ```python
    kvae.datasets.shared_examples("kmnist", "test[:60%]", "test[50%:]")  # 1000
    ```
    """
    spec = DATASETS.get(name)
    if spec is None:
        return 0
    try:
        a, b = (
            resolve_split(name, split, spec.split_sizes)
            for split in (split_a, split_b)
        )
    except DatasetError:
        return 0
    return sum(
        max(0, min(stop, b_stop) - max(start, b_start))
        for part, start, stop in a
        for b_part, b_start, b_stop in b
        if part == b_part
    )
