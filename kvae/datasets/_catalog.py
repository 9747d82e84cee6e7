"""What kvae knows about each dataset: original files, checksums, splits.

Sizes and sha256 sums are the ones tensorflow-datasets 4.9.10 registers in
`tensorflow_datasets/url_checksums/{mnist,kmnist}.txt` and
`datasets/stanford_dogs/checksums.tsv` (a test checks that they agree); the
md5 sums are the published ones (LeCun's MNIST page, the KMNIST `md5sums`
file). Keeping them here lets the IDX route verify files without importing
tensorflow-datasets.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class OriginalFile:
    filename: str
    size: int
    sha256: str
    md5: str | None = None


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    url: str
    files: tuple
    split_sizes: dict
    # split name -> (images file, labels file), for the IDX route.
    idx_files: dict | None = None
    class_names: tuple | None = None

    def file(self, filename):
        for f in self.files:
            if f.filename == filename:
                return f
        raise KeyError(filename)

    @property
    def host(self):
        return self.url.split("/")[2]


def _idx_files(names):
    return {
        "train": (names[0], names[1]),
        "test": (names[2], names[3]),
    }


_IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

MNIST = DatasetSpec(
    name="mnist",
    url="https://storage.googleapis.com/cvdf-datasets/mnist/",
    files=(
        OriginalFile(
            "train-images-idx3-ubyte.gz",
            9_912_422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        ),
        OriginalFile(
            "train-labels-idx1-ubyte.gz",
            28_881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "d53e105ee54ea40749a09fcbcd1e9432",
        ),
        OriginalFile(
            "t10k-images-idx3-ubyte.gz",
            1_648_877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "9fb629c4189551a2d022fa330f9573f3",
        ),
        OriginalFile(
            "t10k-labels-idx1-ubyte.gz",
            4_542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
    ),
    split_sizes={"train": 60_000, "test": 10_000},
    idx_files=_idx_files(_IDX_NAMES),
    class_names=tuple(str(i) for i in range(10)),
)

KMNIST = DatasetSpec(
    name="kmnist",
    url="http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    files=(
        OriginalFile(
            "train-images-idx3-ubyte.gz",
            18_165_135,
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
            "bdb82020997e1d708af4cf47b453dcf7",
        ),
        OriginalFile(
            "train-labels-idx1-ubyte.gz",
            29_497,
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
            "e144d726b3acfaa3e44228e80efcd344",
        ),
        OriginalFile(
            "t10k-images-idx3-ubyte.gz",
            3_041_136,
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
            "5c965bf0a639b31b8f53240b1b52f4d7",
        ),
        OriginalFile(
            "t10k-labels-idx1-ubyte.gz",
            5_120,
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
            "7320c461ea6c1c855c0b718fb2a4b134",
        ),
    ),
    split_sizes={"train": 60_000, "test": 10_000},
    idx_files=_idx_files(_IDX_NAMES),
    class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
)

STANFORD_DOGS = DatasetSpec(
    name="stanford_dogs",
    url="http://vision.stanford.edu/aditya86/ImageNetDogs/",
    files=(
        OriginalFile(
            "images.tar",
            793_579_520,
            "a443fc2f9a851aa1a7b8e4fa4af94b8459fce2c9f5a2f4dd4669cf9673a4ec58",
        ),
        OriginalFile(
            "annotation.tar",
            21_852_160,
            "662ed36f707be6b195c2fda392d8e153e83af28cedc8e2134a649f198def30fd",
        ),
        OriginalFile(
            "lists.tar",
            481_280,
            "34b47cacd9a98b5d150e084f24d29391c084c55272295ec65c85651bc35f4d6c",
        ),
    ),
    split_sizes={"train": 12_000, "test": 8_580},
)

DATASETS = {spec.name: spec for spec in (MNIST, KMNIST, STANFORD_DOGS)}
# "images" is a folder of the user's own pictures, not a tfds dataset.
KNOWN_NAMES = ("mnist", "kmnist", "stanford_dogs", "images")
GRAYSCALE_28 = ("mnist", "kmnist")


def class_names(name):
    """The class names of dataset `name` as a list, or `None` if kvae does
    not know them (an image folder's come from its subfolders)."""
    spec = DATASETS.get(name)
    names = getattr(spec, "class_names", None)
    return list(names) if names else None
