"""The one error type that `kvae.datasets` raises for bad data or input."""


class DatasetError(ValueError):
    """Raised when a dataset cannot be loaded as asked.

    Every message says what was expected and how to fix it: an unknown
    dataset name lists the known ones; a missing, truncated or corrupt
    original file is named with its expected size and checksum, the folder
    where kvae looked, and the `manual_dir=` / `KVAE_MANUAL_DIR` route; a bad
    split string shows the splits and the tfds split syntax.

    It subclasses `ValueError`, so code that caught the `ValueError` that
    tensorflow-datasets raises for a bad split keeps working.

    Example:

    ```python
    try:
        kvae.datasets.load("kmnist", split="train", manual_dir="kmnist/")
    except kvae.datasets.DatasetError as e:
        print(e)  # names train-images-idx3-ubyte.gz and where to put it
    ```
    """
