import os

import pytest

from kvae.datasets import _catalog
from kvae.datasets import _files


@pytest.mark.parametrize("spec", list(_catalog.DATASETS.values()))
def test_checksums_agree_with_tensorflow_datasets(spec):
    import tensorflow_datasets as tfds

    registered = {
        info.filename: info
        for info in tfds.builder_cls(spec.name).url_infos.values()
    }
    assert sorted(registered) == sorted(f.filename for f in spec.files)
    for f in spec.files:
        assert registered[f.filename].size == f.size
        assert registered[f.filename].checksum == f.sha256
        assert spec.url + f.filename in tfds.builder_cls(spec.name).url_infos


@pytest.mark.parametrize(
    "name, filenames",
    [
        ("mnist", [f.filename for f in _catalog.MNIST.files]),
        # The train images are missing from shared/data/kmnist.
        (
            "kmnist",
            [
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
                "train-labels-idx1-ubyte.gz",
            ],
        ),
    ],
)
def test_shared_files_match_published_md5(shared_dir, name, filenames):
    folder = os.path.join(shared_dir, name)
    for filename in filenames:
        spec = _catalog.DATASETS[name]
        assert _files.verify_file(spec, folder, filename) == os.path.join(
            folder, filename
        )
