"""Training-ready data: MNIST, KMNIST, Stanford Dogs and image folders.

TensorFlow and tensorflow-datasets are imported only when data is loaded,
so `import kvae.datasets` works without them.
"""

from kvae.datasets._catalog import GRAYSCALE_28 as GRAYSCALE_NAMES
from kvae.datasets._catalog import KNOWN_NAMES as NAMES
from kvae.datasets._catalog import class_names
from kvae.datasets.errors import DatasetError
from kvae.datasets.idx import read_idx
from kvae.datasets.images import scan_image_folder
from kvae.datasets.load import load
from kvae.datasets.load_numpy import load_numpy
from kvae.datasets.overlap import shared_examples

__all__ = [
    "DatasetError",
    "GRAYSCALE_NAMES",
    "NAMES",
    "class_names",
    "load",
    "load_numpy",
    "read_idx",
    "scan_image_folder",
    "shared_examples",
]
