"""Training-ready data: MNIST, KMNIST, Stanford Dogs and image folders.

TensorFlow and tensorflow-datasets are imported only when data is loaded,
so `import kvae.datasets` works without them.
"""

from kvae.datasets.errors import DatasetError
from kvae.datasets.idx import read_idx
from kvae.datasets.images import scan_image_folder
from kvae.datasets.load import load
from kvae.datasets.load_numpy import load_numpy

__all__ = [
    "DatasetError",
    "load",
    "load_numpy",
    "read_idx",
    "scan_image_folder",
]
